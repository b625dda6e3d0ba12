"""Every public method of the official clients and of Hubbub's, with the same inputs, against one
live server, compared value by value with the type of every value kept (`_compare.typed`).

One scenario (`scenario`) drives all four flavours: the official sync and async packages (over
https, trusting the server's CA) and `hubbub.chat`/`hubbub.identity` sync and aio (over plain
http). It awaits a result only when the flavour returns an awaitable, so the same lines run for
both. A `Recorder` wraps the entry points and records each public attribute the scenario touched;
the coverage guard requires that set to be exactly the public names of the official classes, so a
method added to the official SDK (or dropped from the scenario) fails the test.

The inputs include the loose ones the official SDK accepts because msrest converts by declared
type: a `uuid.UUID` idempotency token, int message ids, str page sizes, naive datetimes.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import uuid
from collections.abc import Callable
from typing import Any

import azure.communication.chat as official_chat
import azure.communication.chat.aio as official_chat_aio
import azure.communication.identity as official_identity
import azure.communication.identity.aio as official_identity_aio
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError

import hubbub.chat as hubbub_chat
import hubbub.chat.aio as hubbub_chat_aio
import hubbub.identity as hubbub_identity
import hubbub.identity.aio as hubbub_identity_aio
from _services import HubbubServer

from ._compare import Labels, Recorder, differences, public_names, typed
from ._tokens import fake_token

TRACKED = ("ChatClient", "ChatThreadClient", "CommunicationTokenCredential", "CommunicationIdentityClient")


def official_surface(chat: types.ModuleType, identity: types.ModuleType) -> dict[str, set[str]]:
    """What the coverage guard expects: the public names of each official class."""
    classes = [chat.ChatClient, chat.ChatThreadClient, chat.CommunicationTokenCredential]
    return {cls.__name__: public_names(cls) for cls in [*classes, identity.CommunicationIdentityClient]}


async def resolve(value: Any) -> Any:
    """The result of a call of either flavour: awaited when it is awaitable."""
    return await value if inspect.isawaitable(value) else value


async def items(iterable: Any) -> list[Any]:
    """All items of an ItemPaged/AsyncItemPaged or of one of their pages."""
    if hasattr(iterable, "__aiter__"):
        return [item async for item in iterable]
    return list(iterable)


async def next_page(pages: Any) -> list[Any]:
    page = await pages.__anext__() if hasattr(pages, "__anext__") else next(pages)
    return await items(page)


async def all_pages(pages: Any) -> list[list[Any]]:
    if hasattr(pages, "__aiter__"):
        return [await items(page) async for page in pages]
    return [await items(page) for page in pages]


async def paging(pager: Callable[[], Any]) -> dict[str, Any]:
    """The page shapes of a list call, and a resume from the first page's continuation token."""
    pages = pager().by_page()
    first = await next_page(pages)
    resumed = await all_pages(pager().by_page(continuation_token=pages.continuation_token))
    return {"pages": await all_pages(pager().by_page()), "first": first, "resumed": resumed}


async def outcome(action: Callable[[], Any]) -> Any:
    """The result of a call, or its error: class, status and ACS code (message for client errors)."""
    try:
        return ("ok", await resolve(action()))
    except HttpResponseError as exc:
        return (type(exc).__name__, exc.status_code, exc.error.code if exc.error else None)
    except (ValueError, TypeError) as exc:
        return (type(exc).__name__, str(exc))


async def scenario(
    chat: types.ModuleType, identity: types.ModuleType, endpoint: str, conn_str: str, recorder: Recorder, **kw: Any
) -> dict[str, Any]:
    """Every public method of every client, sync or async, with the same inputs."""
    out: dict[str, Any] = {}
    admin = recorder.wrap(identity.CommunicationIdentityClient).from_connection_string(conn_str, **kw)
    one, one_token = await resolve(admin.create_user_and_token(["chat"], token_expires_in=dt.timedelta(hours=2)))
    two = await resolve(admin.create_user())
    three = await resolve(admin.create_user())
    outsider = await resolve(admin.create_user())
    out["users"] = [one, two, three, outsider]
    out["create_user_and_token"] = one_token
    scopes = [identity.CommunicationTokenScope.CHAT, "voip"]
    out["get_token"] = await resolve(admin.get_token(two, scopes, token_expires_in=dt.timedelta(minutes=90)))
    outsider_token = await resolve(admin.get_token(outsider, ["chat"]))
    out["get_token_no_scopes"] = await outcome(lambda: admin.get_token(two, None))
    out["get_token_too_long"] = await outcome(
        lambda: admin.get_token(two, ["chat"], token_expires_in=dt.timedelta(hours=25))
    )
    out["get_token_for_teams_user"] = await outcome(lambda: admin.get_token_for_teams_user("bad", "app", "user"))

    credential = chat.CommunicationTokenCredential(one_token.token)
    out["credential_get_token"] = await resolve(recorder.wrap(credential).get_token())
    client = recorder.wrap(chat.ChatClient)(endpoint, credential, **kw)
    participant, user = chat.ChatParticipant, chat.CommunicationUserIdentifier
    idempotency_token = uuid.uuid4()  # a UUID object, as the official README passes it
    create = client.create_chat_thread
    created = await resolve(
        create(
            "topic",
            thread_participants=[
                participant(
                    identifier=user(two.raw_id), display_name="Two", share_history_time=dt.datetime(2024, 1, 1)
                ),
                participant(identifier=user("8:acs:nobody")),
            ],
            idempotency_token=idempotency_token,
        )
    )
    out["create_chat_thread"] = created
    replayed = await resolve(client.create_chat_thread("topic", idempotency_token=idempotency_token))
    out["create_replayed_same_thread"] = replayed.chat_thread.id == created.chat_thread.id
    out["create_no_topic"] = await outcome(lambda: client.create_chat_thread(""))
    thread_id = created.chat_thread.id
    thread = client.get_chat_thread_client(thread_id, **kw)
    out["thread_id"] = thread.thread_id
    out["get_properties"] = await resolve(thread.get_properties())
    await resolve(thread.update_topic("new topic"))
    await resolve(thread.update_topic())
    out["properties_after_update"] = await resolve(thread.get_properties())

    sent = [
        await resolve(thread.send_message(f"m{i}", sender_display_name="One", metadata={"i": str(i)})) for i in range(3)
    ]
    html = await resolve(thread.send_message("<b>x</b>", chat_message_type="html"))
    out["send_message"] = [*sent, html]
    out["send_message_int"] = await resolve(thread.get_message((await resolve(thread.send_message(42))).id))
    out["send_message_bad_type"] = await outcome(lambda: thread.send_message("x", chat_message_type="bogus"))
    out["send_message_empty"] = await outcome(lambda: thread.send_message(""))
    out["get_message"] = await resolve(thread.get_message(int(sent[0].id)))  # an int id, as msrest allows
    await resolve(thread.update_message(int(sent[0].id), "edited", metadata={"e": "1"}))
    await resolve(thread.update_message(sent[0].id))
    out["edited"] = await resolve(thread.get_message(sent[0].id))
    await resolve(thread.delete_message(int(sent[1].id)))
    out["deleted"] = await resolve(thread.get_message(sent[1].id))
    out["list_messages"] = await paging(lambda: thread.list_messages(results_per_page="2"))
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5)  # naive: taken as UTC
    out["list_messages_since"] = [m.type for m in await items(thread.list_messages(start_time=since))]

    out["add_participants"] = await resolve(
        thread.add_participants(
            [participant(identifier=user(three.raw_id), display_name="Three"), participant(identifier=user("8:acs:x"))]
        )
    )
    out["list_participants"] = await paging(lambda: thread.list_participants(results_per_page=1))
    skipped = await items(thread.list_participants(skip="1"))  # which one is skipped depends on the random ids
    out["list_participants_skip"] = (len(skipped), sorted({type(p).__name__ for p in skipped}))
    await resolve(thread.remove_participant(user(three.raw_id)))
    out["participants_after_remove"] = await items(thread.list_participants())

    await resolve(thread.send_typing_notification(sender_display_name="One"))
    await resolve(thread.send_typing_notification())
    await resolve(thread.send_read_receipt(sent[2].id))
    await resolve(thread.send_read_receipt(int(html.id)))
    out["list_read_receipts"] = await paging(lambda: thread.list_read_receipts(results_per_page=1, skip=0))

    await resolve(client.create_chat_thread("second"))
    out["list_chat_threads"] = await paging(lambda: client.list_chat_threads(results_per_page=1))
    out["list_chat_threads_since"] = len(await items(client.list_chat_threads(start_time=since)))
    iso_since = since.isoformat() + "Z"  # msrest also takes an ISO-8601 string
    out["list_chat_threads_since_str"] = len(await items(client.list_chat_threads(start_time=iso_since)))

    stranger_credential = chat.CommunicationTokenCredential(outsider_token.token)
    stranger = chat.ChatClient(endpoint, stranger_credential, **kw)
    stranger_thread = stranger.get_chat_thread_client(thread_id, **kw)
    out["403"] = await outcome(stranger_thread.get_properties)
    out["404"] = await outcome(lambda: thread.get_message("1234567890123"))
    await resolve(client.delete_chat_thread(thread_id))
    await resolve(client.delete_chat_thread(thread_id))
    out["after_delete"] = await outcome(thread.get_properties)

    await resolve(admin.revoke_tokens(outsider))
    out["revoked"] = await outcome(stranger_thread.get_properties)
    await resolve(admin.delete_user(three))
    for closable in (stranger_thread, stranger, stranger_credential, thread, client):
        await resolve(closable.close())
    await resolve(recorder.wrap(credential).close())
    if inspect.iscoroutinefunction(admin._target.close if hasattr(admin._target, "close") else None):
        await admin.close()  # only the async official identity client has close()
    elif hasattr(admin._target, "close"):
        admin._target.close()  # a Hubbub extra (the official sync client has none): not recorded
    return out


UNORDERED = ("list_participants", "list_read_receipts", "participants_after_remove")
"""Listed by (random) user id on the server: compared as page sizes plus a sorted multiset."""


def normalized(result: dict[str, Any]) -> dict[str, Any]:
    labels = Labels([u.raw_id for u in result["users"]])
    out = {key: typed(value, labels) for key, value in result.items() if key not in UNORDERED}
    for key in UNORDERED:
        value = result[key]
        pages = value["pages"] if isinstance(value, dict) else [value]
        out[key] = ([len(p) for p in pages], sorted(repr(typed(item, labels)) for p in pages for item in p))
        if isinstance(value, dict):
            resumed = value["first"] + [item for page in value["resumed"] for item in page]
            out[key + " resumed"] = sorted(repr(typed(item, labels)) for item in resumed)
    return out


FLAVOURS = {
    "sync": ((official_chat, official_identity), (hubbub_chat, hubbub_identity)),
    "aio": ((official_chat_aio, official_identity_aio), (hubbub_chat_aio, hubbub_identity_aio)),
}


def with_models(chat: types.ModuleType) -> types.ModuleType:
    """The aio chat modules export only the clients: add the models of their sync package."""
    if not chat.__name__.endswith(".aio"):
        return chat
    base = official_chat if chat is official_chat_aio else hubbub_chat
    merged = types.ModuleType(chat.__name__)
    merged.__dict__.update({k: v for k, v in vars(base).items() if not k.startswith("__")})
    merged.__dict__.update({k: v for k, v in vars(chat).items() if not k.startswith("__")})
    return merged


def with_scopes(identity: types.ModuleType) -> types.ModuleType:
    if hasattr(identity, "CommunicationTokenScope"):
        return identity
    base = official_identity if identity is official_identity_aio else hubbub_identity
    merged = types.ModuleType(identity.__name__)
    merged.__dict__.update(vars(base))
    merged.__dict__.update({k: v for k, v in vars(identity).items() if not k.startswith("__")})
    return merged


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
async def test_every_public_method_gives_the_same_typed_results(sdk_server: HubbubServer, flavour: str) -> None:
    (official_chat_mod, official_id_mod), (hubbub_chat_mod, hubbub_id_mod) = FLAVOURS[flavour]
    official_kw = {"connection_verify": str(sdk_server.ca_path)} if flavour == "aio" else {}
    runs = {}
    surface = official_surface(official_chat_mod, official_id_mod)
    for name, chat, identity, endpoint, conn_str, kw in [
        (
            "official",
            official_chat_mod,
            official_id_mod,
            sdk_server.https_url,
            sdk_server.connection_string,
            official_kw,
        ),
        ("hubbub", hubbub_chat_mod, hubbub_id_mod, sdk_server.http_url, sdk_server.http_connection_string, {}),
    ]:
        recorder = Recorder(set(TRACKED))
        result = await scenario(with_models(chat), with_scopes(identity), endpoint, conn_str, recorder, **kw)
        # The coverage guard: exactly the official public surface was exercised, in both runs.
        assert recorder.used == surface, f"{name} {flavour}: methods not exercised or unknown"
        runs[name] = normalized(result)
    official, ours = runs["official"], runs["hubbub"]
    assert official["create_replayed_same_thread"] == ("bool", True)
    assert official["create_user_and_token"][1]["expires_on"][0] == "str"  # identity 1.5.0: the raw string
    assert official["credential_get_token"][1]["expires_on"] == ("int", "<epoch>")
    assert len(official["list_messages"][1]["pages"][1]) > 2  # several pages
    assert ours == official, "\n".join(differences(ours, official))


async def test_credential_accepts_identity_tokens_from_a_refresher(sdk_server: HubbubServer) -> None:
    """A documented difference: `get_token()` of identity 1.5.0 returns `expires_on` as a string,
    which the official chat credential cannot compare (TypeError) when a refresher returns it.
    Hubbub's credential reads the string (the JWT's `exp` as a fallback) and refreshes."""
    admin = hubbub_identity.CommunicationIdentityClient.from_connection_string(sdk_server.http_connection_string)
    user = admin.create_user()
    issued: list[AccessToken] = []

    def refresher() -> AccessToken:
        issued.append(admin.get_token(user, ["chat"]))
        return issued[-1]

    with pytest.raises(TypeError):
        official_chat.CommunicationTokenCredential(fake_token(60), token_refresher=refresher).get_token()
    token = hubbub_chat.CommunicationTokenCredential(fake_token(60), token_refresher=refresher).get_token()
    assert isinstance(issued[-1].expires_on, str)
    assert token.token == issued[-1].token
    assert token.expires_on == int(dt.datetime.fromisoformat(issued[-1].expires_on).timestamp())
    admin.close()
