"""Filters, handshakes, retries and dead letters, with `hubbub subscriptions` and a real receiver."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from _services import HubbubServer, ServerFactory
from events._clients import new_user

from ._receiver import Receiver
from .conftest import FAST, Subscribe, data_args, wait_validated

IN_THREAD = "Microsoft.Communication.ChatMessageReceivedInThread"


def deliveries(server: HubbubServer, name: str) -> list[dict[str, Any]]:
    done = server.cli("subscriptions", "deliveries", name, "--json", *data_args(server))
    return list(json.loads(done.stdout))


def wait_until(check: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached after {timeout} s")


async def test_filters_on_type_and_subject(hub: HubbubServer, receiver: Receiver, subscribe: Subscribe) -> None:
    alice, bob, carol = new_user(hub), new_user(hub), new_user(hub)
    watched = await alice.create_thread(bob, carol)
    other = await alice.create_thread(bob)
    only_type = subscribe(hub, "--event-types", IN_THREAD)
    only_thread = subscribe(hub, "--subject-begins-with", f"thread/{watched}/")
    only_bob = subscribe(
        hub,
        "--event-types",
        "Microsoft.Communication.ChatMessageReceived",
        "--subject-ends-with",
        f"/recipient/{bob.id}",
    )
    await alice.send(watched, "one")
    await alice.send(other, "two")
    receiver.wait_for(only_type, 2)
    receiver.wait_for(only_thread, 3)
    receiver.wait_for(only_bob, 2)
    time.sleep(0.5)
    assert [e["type"] for e in receiver.received(only_type)] == [IN_THREAD, IN_THREAD]
    assert {e["subject"].split("/")[1] for e in receiver.received(only_thread)} == {watched}
    assert len(receiver.received(only_thread)) == 3  # in thread, to bob, to carol
    assert [e["data"]["recipientCommunicationIdentifier"]["rawId"] for e in receiver.received(only_bob)] == [
        bob.id,
        bob.id,
    ]


async def test_nothing_is_delivered_before_the_handshake_passes(
    hub: HubbubServer, receiver: Receiver, subscribe: Subscribe
) -> None:
    for schema in ("eventgrid", "cloudevents"):
        path = f"/refusing-{schema}-{uuid.uuid4().hex[:8]}"
        receiver.control(path, handshake=False)
        hub.cli(
            "subscriptions", "create", path[1:], "--endpoint", receiver.url(path), "--schema", schema, *data_args(hub)
        )
        alice, bob = new_user(hub), new_user(hub)
        thread = await alice.create_thread(bob)
        wait_until(lambda path=path: receiver.handshakes(path) >= 1, what="a handshake")
        await alice.send(thread, "not for you")
        time.sleep(1.0)
        assert receiver.received(path) == []
        assert "not yet" in hub.cli("subscriptions", "show", path[1:], *data_args(hub)).stdout
        receiver.control(path, handshake=True)
        wait_validated(hub, path[1:])
        await alice.send(thread, "now for you")
        events = receiver.wait_for(path, 2)
        assert {e["data"]["messageBody"] for e in events} == {"now for you"}


async def test_a_failing_receiver_gets_the_events_later(
    hub: HubbubServer, receiver: Receiver, subscribe: Subscribe
) -> None:
    path = subscribe(hub, "--event-types", IN_THREAD)
    receiver.control(path, status=500, count=3)
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob)
    message_id = await alice.send(thread, "eventually")
    events = receiver.wait_for(path, 1)
    assert [e["data"]["messageId"] for e in events] == [message_id]
    assert len(receiver.received(path + "#refused")) == 3
    assert events[0]["headers"]["aeg-delivery-count"] == "3"
    wait_until(lambda: deliveries(hub, path[1:]) == [], what="no delivery left")


async def test_a_refusing_receiver_gets_them_dead_lettered_and_redelivered(
    hub: HubbubServer, receiver: Receiver, subscribe: Subscribe
) -> None:
    path = subscribe(hub, "--event-types", IN_THREAD)
    name = path[1:]
    receiver.control(path, status=400, count=1000)
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob)
    message_id = await alice.send(thread, "refused")
    dead = wait_until(lambda: [d for d in deliveries(hub, name) if d["state"] == "deadLettered"], what="dead letter")
    assert dead[0]["attempts"] == 1 and dead[0]["lastError"] == "HTTP 400"  # no retry on 400
    assert len(receiver.received(path + "#refused")) == 1
    assert "1 deadLettered" in hub.cli("subscriptions", "deliveries", name, *data_args(hub)).stdout
    receiver.control(path, status=200, count=0)
    assert "Queued 1" in hub.cli("subscriptions", "redeliver", name, *data_args(hub)).stdout
    events = receiver.wait_for(path, 1)
    assert [e["data"]["messageId"] for e in events] == [message_id]
    wait_until(lambda: deliveries(hub, name) == [], what="no delivery left")


def test_the_cli_manages_subscriptions(hub: HubbubServer, receiver: Receiver) -> None:
    bad = hub.cli("subscriptions", "create", "bad-one", "--endpoint", "ftp://127.0.0.1/x", *data_args(hub), check=False)
    assert bad.returncode != 0 and "http" in bad.stderr
    unknown = hub.cli(
        "subscriptions",
        "create",
        "bad-two",
        "--endpoint",
        receiver.url("/x"),
        "--event-types",
        "Microsoft.Communication.Nope",
        *data_args(hub),
        check=False,
    )
    assert unknown.returncode != 0 and "Unknown event type" in unknown.stderr
    hub.cli(
        "subscriptions",
        "create",
        "listed",
        "--endpoint",
        receiver.url("/listed?code=s3cret"),
        "--schema",
        "cloudevents",
        "--max-attempts",
        "5",
        "--ttl-minutes",
        "60",
        *data_args(hub),
    )
    shown = json.loads(hub.cli("subscriptions", "show", "listed", "--json", *data_args(hub)).stdout)
    props = shown["properties"]
    assert props["destination"]["properties"]["endpointUrl"] == receiver.url("/listed?code=s3cret")
    assert props["eventDeliverySchema"] == "CloudEventSchemaV1_0"
    assert props["retryPolicy"] == {"maxDeliveryAttempts": 5, "eventTimeToLiveInMinutes": 60}
    assert "listed" in hub.cli("subscriptions", "list", *data_args(hub)).stdout
    hub.cli("subscriptions", "delete", "listed", *data_args(hub))
    assert "listed" not in hub.cli("subscriptions", "list", *data_args(hub)).stdout
    assert hub.cli("subscriptions", "show", "listed", *data_args(hub), check=False).returncode != 0


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
async def test_batches_up_to_max_events_per_batch(
    server_factory: ServerFactory, engine: str, receiver: Receiver, subscribe: Subscribe, schema: str
) -> None:
    """With one send slot busy on a slow first request, the next events leave in one batch."""
    hub = server_factory(engine, env={**FAST, "HUBBUB_WEBHOOK_CONCURRENCY": "1"})
    path = subscribe(hub, "--event-types", IN_THREAD, "--max-events-per-batch", "10", schema=schema)
    receiver.control(path, delay=1.5, delays=1)
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob)
    sent = [await alice.send(thread, "first")]
    time.sleep(0.3)
    sent += [await alice.send(thread, f"queued {i}") for i in range(10)]
    events = receiver.wait_for(path, len(sent))
    assert [e["data"]["messageId"] for e in events] == sent  # one slot: in order
    assert [e["batch"] for e in events] == [1] + [10] * 10
    if schema == "cloudevents":
        assert events[-1]["content_type"].startswith("application/cloudevents-batch+json")
    await alice.aclose()
    await bob.aclose()


async def test_a_new_subscription_gets_no_events_from_before_it(
    server_factory: ServerFactory, engine: str, receiver: Receiver, subscribe: Subscribe
) -> None:
    """Changes recorded while the last subscription was being deleted never reach a later one."""
    hub = server_factory(engine, env={**FAST, "HUBBUB_WEBHOOK_POLL_SECONDS": "3"})
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob)
    old = subscribe(hub, "--event-types", IN_THREAD)
    hub.cli("subscriptions", "delete", old[1:], *data_args(hub))
    await alice.send(thread, "while nobody listens")  # recorded: the node has not noticed yet
    time.sleep(3.5)  # its next poll notices
    new = subscribe(hub, "--event-types", IN_THREAD)
    message_id = await alice.send(thread, "for the new one")
    receiver.wait_for(new, 1)
    time.sleep(0.5)
    assert [e["data"]["messageId"] for e in receiver.received(new)] == [message_id]
    await alice.aclose()
    await bob.aclose()


async def test_metrics_count_outcomes_and_the_queue(
    server_factory: ServerFactory, engine: str, receiver: Receiver, subscribe: Subscribe
) -> None:
    """`/metrics` counts webhook events by outcome, times the requests, and reads the queue's depth."""
    from prometheus_client.parser import text_string_to_metric_families

    hub = server_factory(engine, env={**FAST, "HUBBUB_METRICS": "true"})

    def scrape() -> dict[tuple[str, str], float]:
        text = httpx.get(f"{hub.http_url}/metrics", timeout=10, trust_env=False).text
        return {
            (sample.name, sample.labels.get("outcome") or sample.labels.get("state") or ""): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name.startswith("hubbub_webhook_")
        }

    flaky, refusing = subscribe(hub, "--event-types", IN_THREAD), subscribe(hub, "--event-types", IN_THREAD)
    receiver.control(flaky, status=500, count=2)
    receiver.control(refusing, status=400, count=1000)
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob)
    await alice.send(thread, "counted")
    receiver.wait_for(flaky, 1)
    wait_until(lambda: [d for d in deliveries(hub, refusing[1:]) if d["state"] == "deadLettered"], what="dead letter")
    samples = wait_until(
        lambda: (s := scrape())[("hubbub_webhook_events_total", "delivered")] >= 1 and s, what="a counted delivery"
    )
    assert samples[("hubbub_webhook_events_total", "retried")] == 2
    assert samples[("hubbub_webhook_events_total", "dead_lettered")] == 1
    assert samples[("hubbub_webhook_request_duration_seconds_count", "")] == 4  # 3 to flaky, 1 to refusing
    assert samples[("hubbub_webhook_queue_depth", "dead")] == 1
    assert samples[("hubbub_webhook_queue_depth", "outbox")] == 0
    receiver.control(refusing, status=200, count=0)
    hub.cli("subscriptions", "redeliver", refusing[1:], *data_args(hub))
    receiver.wait_for(refusing, 1)
    wait_until(
        lambda: (
            (s := scrape())[("hubbub_webhook_events_total", "delivered")] == 2
            and s[("hubbub_webhook_queue_depth", "dead")] == 0
            and s[("hubbub_webhook_queue_depth", "pending")] == 0
        ),
        what="the redelivery counted and the queue empty",
    )
