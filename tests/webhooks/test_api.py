"""The ARM-shaped HTTP API for event subscriptions, signed with the access key like the Identity API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from _services import HubbubServer
from events._clients import new_user
from server._acs import RawApi

from ._receiver import Receiver

BASE = "/providers/Microsoft.EventGrid/eventSubscriptions"
ARM_VERSION = "2022-06-15"


@pytest.fixture
def raw(hub: HubbubServer) -> Iterator[RawApi]:
    api = RawApi(hub)
    yield api
    api.close()


async def test_create_through_the_api_and_receive(hub: HubbubServer, raw: RawApi, receiver: Receiver) -> None:
    endpoint = receiver.url("/arm-hook-" + hub.engine)
    body = {
        "properties": {
            "destination": {
                "endpointType": "WebHook",
                "properties": {
                    "endpointUrl": endpoint,
                    "maxEventsPerBatch": 5,
                    "deliveryAttributeMappings": [
                        {
                            "name": "X-Hubbub-Delivery-Secret",
                            "type": "Static",
                            "properties": {"value": "let-me-in", "isSecret": True},
                        }
                    ],
                },
            },
            "filter": {"includedEventTypes": ["Microsoft.Communication.ChatMessageReceivedInThread"]},
            "eventDeliverySchema": "CloudEventSchemaV1_0",
            "retryPolicy": {"maxDeliveryAttempts": 10, "eventTimeToLiveInMinutes": 30},
        }
    }
    created = raw.identity("PUT", f"{BASE}/arm-{hub.engine}", json_body=body, api_version=ARM_VERSION)
    assert created.status_code == 201, created.text
    props = created.json()["properties"]
    assert props["retryPolicy"] == {"maxDeliveryAttempts": 10, "eventTimeToLiveInMinutes": 30}
    assert props["destination"]["properties"]["maxEventsPerBatch"] == 5
    assert props["filter"]["includedEventTypes"] == ["Microsoft.Communication.ChatMessageReceivedInThread"]
    listed = raw.identity("GET", BASE, api_version=ARM_VERSION).json()["value"]
    assert [s["name"] for s in listed] == [f"arm-{hub.engine}"]

    deadline = time.monotonic() + 20  # nothing is delivered until the endpoint passed the handshake
    while raw.identity("GET", f"{BASE}/arm-{hub.engine}").json()["properties"]["provisioningState"] != "Succeeded":
        assert time.monotonic() < deadline, "the CloudEvents handshake did not pass"
        time.sleep(0.1)
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob)
    message_id = await alice.send(thread, "through ARM")
    events = receiver.wait_for("/arm-hook-" + hub.engine, 1)
    assert [e["data"]["messageId"] for e in events] == [message_id]
    assert events[0]["schema"] == "cloudevents"
    assert events[0]["content_type"].startswith("application/cloudevents-batch+json")  # batching on
    assert events[0]["headers"]["x-hubbub-delivery-secret"] == "let-me-in"
    assert raw.identity("GET", f"{BASE}/arm-{hub.engine}/deliveries", api_version=ARM_VERSION).json() == {"value": []}
    assert raw.identity("DELETE", f"{BASE}/arm-{hub.engine}", api_version=ARM_VERSION).status_code == 200
    assert raw.identity("GET", f"{BASE}/arm-{hub.engine}", api_version=ARM_VERSION).status_code == 404
    await alice.aclose()
    await bob.aclose()


def test_the_api_refuses_unsigned_and_bad_requests(hub: HubbubServer, raw: RawApi) -> None:
    good = {"properties": {"destination": {"properties": {"endpointUrl": "https://127.0.0.1:9/x"}}}}
    assert raw.identity("PUT", f"{BASE}/nope", json_body=good, sign=False).status_code == 401
    assert raw.identity("GET", BASE, sign=False).status_code == 401
    bad_url = {"properties": {"destination": {"properties": {"endpointUrl": "file:///etc/passwd"}}}}
    assert raw.identity("PUT", f"{BASE}/nope", json_body=bad_url).status_code == 400
    no_url = {"properties": {"destination": {"properties": {}}}}
    assert raw.identity("PUT", f"{BASE}/nope", json_body=no_url).status_code == 400
    schema = {**good, "properties": {**good["properties"], "eventDeliverySchema": "CustomInputSchema"}}
    assert raw.identity("PUT", f"{BASE}/nope", json_body=schema).status_code == 400
