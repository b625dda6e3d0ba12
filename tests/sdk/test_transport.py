"""Client behaviour checked against `httpx.MockTransport`: requests on the wire, retries, errors, paging."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from hubbub import chat, identity
from hubbub.chat import aio as chat_aio
from hubbub.identity import aio as identity_aio

from ._tokens import fake_token

THREAD = "19:abc@thread.v2"
THREAD_BODY = {
    "id": THREAD,
    "topic": "t",
    "createdOn": "2024-05-01T10:00:00.1234567Z",
    "createdByCommunicationIdentifier": {"rawId": "8:acs:u1", "communicationUser": {"id": "8:acs:u1"}},
}
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a queue and records every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"{code} happened"}}, headers=headers)


def chat_client(recorder: Recorder, **kwargs: object) -> chat.ChatClient:
    return chat.ChatClient(
        "http://hubbub.test",
        chat.CommunicationTokenCredential(fake_token(3600)),
        transport=httpx.MockTransport(recorder),
        retry_backoff_factor=0.01,
        **kwargs,
    )


# -- requests on the wire (spec §5.1) ----------------------------------------------------------------


def test_create_thread_request_matches_the_official_sdk() -> None:
    recorder = Recorder(ok(201, {"chatThread": THREAD_BODY}))
    client = chat_client(recorder)
    participant = chat.ChatParticipant(
        identifier=chat.CommunicationUserIdentifier("8:acs:u2"),
        display_name="U2",
        share_history_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    result = client.create_chat_thread("topic", thread_participants=[participant], idempotency_token="tok-1")
    request = recorder.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/chat/threads"
    assert dict(parse_qsl(request.url.query.decode())) == {"api-version": "2024-03-07"}
    assert request.headers["repeatability-request-id"] == "tok-1"
    assert request.headers["authorization"].startswith("Bearer ")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "topic": "topic",
        "participants": [
            {
                "communicationIdentifier": {"rawId": "8:acs:u2", "communicationUser": {"id": "8:acs:u2"}},
                "displayName": "U2",
                "shareHistoryTime": "2024-01-01T00:00:00.000Z",
            }
        ],
    }
    assert result.chat_thread.id == THREAD
    assert result.chat_thread.created_on == dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert result.chat_thread.created_by == chat.CommunicationUserIdentifier("8:acs:u1")
    assert result.errors == []


def test_thread_operations_build_the_documented_requests() -> None:
    recorder = Recorder(ok(204))
    thread = chat_client(recorder).get_chat_thread_client(THREAD)
    recorder.responses = [ok(204)]
    thread.update_topic()
    recorder.responses = [ok(201, {"id": "1"})]
    thread.send_message("<b>hi</b>", chat_message_type="html", metadata={"a": "b"})
    recorder.responses = [ok(204)]
    thread.remove_participant(chat.PhoneNumberIdentifier("+14255550123"))
    recorder.responses = [ok(200)]
    thread.send_typing_notification()
    sent = [
        (r.method, r.url.raw_path.decode().split("?")[0], r.headers.get("content-type"), r.content)
        for r in recorder.requests
    ]
    assert sent == [
        ("PATCH", "/chat/threads/19%3Aabc%40thread.v2", "application/merge-patch+json", b"{}"),
        (
            "POST",
            "/chat/threads/19%3Aabc%40thread.v2/messages",
            "application/json",
            b'{"content": "<b>hi</b>", "type": "html", "metadata": {"a": "b"}}',
        ),
        (
            "POST",
            "/chat/threads/19%3Aabc%40thread.v2/participants/:remove",
            "application/json",
            b'{"rawId": "4:+14255550123", "phoneNumber": {"value": "+14255550123"}}',
        ),
        ("POST", "/chat/threads/19%3Aabc%40thread.v2/typing", "application/json", b"{}"),
    ]


def test_client_side_validation_matches_the_official_messages() -> None:
    client = chat_client(Recorder(ok(200)))
    with pytest.raises(ValueError, match="topic cannot be None"):
        client.create_chat_thread("")
    thread = client.get_chat_thread_client(THREAD)
    with pytest.raises(ValueError, match="can be only 'text' or 'html'"):
        thread.send_message("x", chat_message_type=chat.ChatMessageType.TOPIC_UPDATED)
    with pytest.raises(ValueError, match="is not acceptable"):
        thread.send_message("x", chat_message_type="bogus")
    with pytest.raises(ValueError, match="message_id cannot be None"):
        thread.get_message("")
    with pytest.raises(ValueError, match="thread_id cannot be None"):
        client.get_chat_thread_client("")


def test_per_call_headers_and_timeout_reach_the_transport() -> None:
    recorder = Recorder(ok(200, THREAD_BODY))
    thread = chat_client(recorder, headers={"x-client": "1"}).get_chat_thread_client(THREAD)
    thread.get_properties(headers={"x-call": "2"}, timeout=3.5)
    request = recorder.requests[0]
    assert request.headers["x-client"] == "1"
    assert request.headers["x-call"] == "2"
    assert request.extensions["timeout"]["read"] == 3.5


def test_thread_client_inherits_the_chat_client_options() -> None:
    recorder = Recorder(ok(200, THREAD_BODY))
    client = chat_client(recorder, headers={"x-tenant": "t1"}, api_version="2025-03-15")
    client.get_chat_thread_client(THREAD).get_properties()
    client.get_chat_thread_client(THREAD, headers={"x-tenant": "t2"}).get_properties()
    assert [r.headers["x-tenant"] for r in recorder.requests] == ["t1", "t2"]
    assert all(dict(parse_qsl(r.url.query.decode()))["api-version"] == "2025-03-15" for r in recorder.requests)


# -- errors (spec §7.2) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, HttpResponseError),
        (401, ClientAuthenticationError),
        (403, HttpResponseError),
        (404, ResourceNotFoundError),
        (409, ResourceExistsError),
        (429, HttpResponseError),
    ],
)
def test_status_maps_to_the_azure_core_exception(status: int, exception: type[HttpResponseError]) -> None:
    client = chat_client(Recorder(error(status, "Oops")), retry_total=0)
    with pytest.raises(HttpResponseError) as caught:
        client.get_chat_thread_client(THREAD).get_properties()
    assert type(caught.value) is exception
    assert caught.value.status_code == status
    assert caught.value.error is not None
    assert caught.value.error.code == "Oops"
    assert caught.value.error.message == "Oops happened"
    assert "(Oops) Oops happened" in str(caught.value)


def test_unexpected_success_status_is_an_error() -> None:
    client = chat_client(Recorder(ok(200, {"chatThread": THREAD_BODY})))
    with pytest.raises(HttpResponseError, match="Operation returned an invalid status 'OK'"):
        client.create_chat_thread("t")


# -- retries (spec §7.3, with the no-duplicate rule) -----------------------------------------------------


def test_get_is_retried_after_503_with_backoff() -> None:
    recorder = Recorder(error(503, "Busy"), error(503, "Busy"), ok(200, THREAD_BODY))
    props = chat_client(recorder).get_chat_thread_client(THREAD).get_properties()
    assert props.id == THREAD
    assert len(recorder.requests) == 3


def test_send_message_is_not_retried_when_the_server_may_have_acted() -> None:
    recorder = Recorder(error(503, "Busy"), ok(201, {"id": "1"}))
    with pytest.raises(HttpResponseError) as caught:
        chat_client(recorder).get_chat_thread_client(THREAD).send_message("hello")
    assert caught.value.status_code == 503
    assert len(recorder.requests) == 1


def test_send_message_is_retried_when_the_server_refused_with_retry_after() -> None:
    recorder = Recorder(error(429, "TooManyRequests", {"Retry-After": "0"}), ok(201, {"id": "1"}))
    result = chat_client(recorder).get_chat_thread_client(THREAD).send_message("hello")
    assert result.id == "1"
    assert len(recorder.requests) == 2


def test_send_message_is_retried_after_a_connect_error() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), ok(201, {"id": "1"}))
    assert chat_client(recorder).get_chat_thread_client(THREAD).send_message("hi").id == "1"
    assert len(recorder.requests) == 2


def test_connect_errors_become_service_request_error() -> None:
    recorder = Recorder(httpx.ConnectError("refused"))
    with pytest.raises(ServiceRequestError):
        chat_client(recorder, retry_total=1).get_chat_thread_client(THREAD).get_properties()
    assert len(recorder.requests) == 2


def test_create_thread_retry_reuses_the_repeatability_id() -> None:
    recorder = Recorder(error(500, "Internal"), ok(201, {"chatThread": THREAD_BODY}))
    chat_client(recorder).create_chat_thread("t")
    ids = {r.headers["repeatability-request-id"] for r in recorder.requests}
    assert len(recorder.requests) == 2
    assert len(ids) == 1


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("hubbub._sdk._sync.pipeline.sleep", slept.append)
    recorder = Recorder(error(429, "TooManyRequests", {"Retry-After": "7"}), ok(200, THREAD_BODY))
    chat_client(recorder).get_chat_thread_client(THREAD).get_properties()
    assert slept == [7.0]


# -- paging (spec §6) --------------------------------------------------------------------------------------


def paging_handler(request: httpx.Request) -> httpx.Response:
    params = dict(parse_qsl(request.url.query.decode()))
    page = int(params.get("page", "0"))
    body: dict[str, object] = {"value": [{"id": f"19:t{page}@thread.v2", "topic": f"t{page}"}]}
    if page < 2:
        body["nextLink"] = f"/chat/threads?page={page + 1}&maxPageSize=1&api-version=old"
    return httpx.Response(200, json=body)


def test_by_page_follows_next_links_and_resumes_from_a_continuation_token() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return paging_handler(request)

    client = chat.ChatClient(
        "http://hubbub.test/prefix",
        chat.CommunicationTokenCredential(fake_token(3600)),
        transport=httpx.MockTransport(handler),
    )
    pages = client.list_chat_threads(results_per_page=1).by_page()
    first = [t.topic for t in next(pages)]
    token = pages.continuation_token
    assert first == ["t0"]
    assert token == "/chat/threads?page=1&maxPageSize=1&api-version=old"
    resumed = client.list_chat_threads(results_per_page=1).by_page(continuation_token=token)
    assert [[t.topic for t in page] for page in resumed] == [["t1"], ["t2"]]
    assert requests[0].url.path == "/prefix/chat/threads"
    assert dict(parse_qsl(requests[1].url.query.decode()))["api-version"] == "2024-03-07"
    assert requests[1].url.path == "/prefix/chat/threads"
    assert requests[1].headers["accept"] == "*/*"


async def test_async_pager_has_the_same_pages() -> None:
    client = chat_aio.ChatClient(
        "http://hubbub.test",
        chat_aio.CommunicationTokenCredential(fake_token(3600)),
        transport=httpx.MockTransport(paging_handler),
    )
    topics = [[t.topic async for t in page] async for page in client.list_chat_threads().by_page()]
    assert topics == [["t0"], ["t1"], ["t2"]]
    await client.close()


# -- identity: HMAC and connection strings (spec §3.1, §8) ------------------------------------------------


KEY = base64.b64encode(b"k" * 32).decode()


def test_identity_keeps_http_from_the_connection_string_and_signs_like_the_official_sdk() -> None:
    from azure.communication.identity._shared.policy import HMACCredentialsPolicy
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline.transport import HttpRequest

    recorder = Recorder(ok(200, {"token": "t.e.s", "expiresOn": "2024-05-02T10:00:00.1234567+00:00"}))
    client = identity.CommunicationIdentityClient.from_connection_string(
        f"endpoint=http://hubbub.test:8080/;accesskey={KEY}", transport=httpx.MockTransport(recorder)
    )
    token = client.get_token(
        identity.CommunicationUserIdentifier("8:acs:u1"), ["chat"], token_expires_in=dt.timedelta(hours=1)
    )
    assert token.expires_on == "2024-05-02T10:00:00.1234567+00:00"  # the raw string, as identity 1.5.0 returns it
    sent = recorder.requests[0]
    assert str(sent.url).startswith("http://hubbub.test:8080/identities/8%3Aacs%3Au1/:issueAccessToken?")
    assert json.loads(sent.content) == {"scopes": ["chat"], "expiresInMinutes": 60}

    # The official policy, given the same request and date, must produce the same signature.
    official = HttpRequest(sent.method, str(sent.url), data=sent.content.decode())
    official.body = sent.content.decode()
    pipeline_request = PipelineRequest(official, PipelineContext(None))
    policy = HMACCredentialsPolicy("http://hubbub.test:8080", KEY)
    import azure.communication.identity._shared.policy as policy_module

    original = policy_module.get_current_utc_time
    policy_module.get_current_utc_time = lambda: sent.headers["x-ms-date"]  # type: ignore[assignment]
    try:
        policy.on_request(pipeline_request)
    finally:
        policy_module.get_current_utc_time = original
    assert official.headers["Authorization"] == sent.headers["authorization"]
    assert official.headers["x-ms-content-sha256"] == sent.headers["x-ms-content-sha256"]


async def test_async_identity_sends_the_same_requests() -> None:
    recorder = Recorder(ok(201, {"identity": {"id": "8:acs:new"}}))
    async with identity_aio.CommunicationIdentityClient(
        "http://hubbub.test", KEY, transport=httpx.MockTransport(recorder)
    ) as client:
        user = await client.create_user()
        recorder.responses = [ok(204)]
        await client.revoke_tokens(user)
        await client.delete_user(user)
    assert user.raw_id == "8:acs:new"
    assert [(r.method, urlsplit(str(r.url)).path, r.content) for r in recorder.requests] == [
        ("POST", "/identities", b""),
        ("POST", "/identities/8%3Aacs%3Anew/:revokeAccessTokens", b""),
        ("DELETE", "/identities/8%3Aacs%3Anew", b""),
    ]


def test_malformed_connection_string_is_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid connection string"):
        identity.CommunicationIdentityClient.from_connection_string("endpoint=http://x/")
