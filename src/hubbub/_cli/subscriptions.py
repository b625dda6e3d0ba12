"""`hubbub subscriptions`: webhook event subscriptions in the server's database (docs/webhooks.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hubbub._cli.options import DATA_DIR, DATABASE_URL
from hubbub._cli.options import settings as _settings


@click.group()
def subscriptions() -> None:
    """Manage webhook event subscriptions (Event Grid / CloudEvents) in the server's database.

    Run against the database the server uses (--data-dir or --database-url); running nodes pick
    changes up within HUBBUB_WEBHOOK_POLL_SECONDS. See docs/webhooks.md.
    """


def _with_subscriptions(data_dir: Path | None, database_url: str | None, use: Callable[[Any], Any]) -> Any:
    """Run `use(SubscriptionService)` on the configured database; domain errors become CLI errors."""
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def run() -> Any:
        from hubbub.server.store import open_database
        from hubbub.server.webhooks.subscriptions import SubscriptionService

        db = await open_database(settings)
        try:
            return await use(SubscriptionService(db))
        finally:
            await db.close()

    from hubbub.server.errors import HubbubError

    try:
        return asyncio.run(run())
    except HubbubError as exc:
        raise click.ClickException(exc.message) from exc


def _topic() -> str:
    return _settings().events_topic


@subscriptions.command("create")
@click.argument("name")
@click.option("--endpoint", required=True, help="The webhook URL (http or https).")
@click.option("--schema", type=click.Choice(["eventgrid", "cloudevents"]), default="eventgrid", show_default=True)
@click.option("--event-types", default=None, help="Comma-separated event types to include (default: all).")
@click.option("--subject-begins-with", default="", help="Deliver only events whose subject starts so.")
@click.option("--subject-ends-with", default="", help="Deliver only events whose subject ends so.")
@click.option("--max-attempts", type=click.IntRange(1, 30), default=30, show_default=True)
@click.option("--ttl-minutes", type=click.IntRange(1, 1440), default=1440, show_default=True)
@click.option(
    "--max-events-per-batch",
    type=click.IntRange(1, 5000),
    default=1,
    show_default=True,
    help="Events per request at most (Event Grid's maxEventsPerBatch).",
)
@click.option("--secret", default=None, help="Delivery secret (default: generated; kept on update).")
@DATA_DIR
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print the subscription as JSON (ARM shape).")
def subscriptions_create(
    name: str,
    endpoint: str,
    schema: str,
    event_types: str | None,
    subject_begins_with: str,
    subject_ends_with: str,
    max_attempts: int,
    ttl_minutes: int,
    max_events_per_batch: int,
    secret: str | None,
    data_dir: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create (or replace) the subscription NAME. It delivers once its endpoint passed the handshake."""
    types = [t.strip() for t in event_types.split(",") if t.strip()] if event_types else None
    sub = _with_subscriptions(
        data_dir,
        database_url,
        lambda service: service.put_subscription(
            name,
            endpoint=endpoint,
            schema=schema,
            event_types=types,
            subject_begins_with=subject_begins_with,
            subject_ends_with=subject_ends_with,
            max_attempts=max_attempts,
            ttl_minutes=ttl_minutes,
            secret=secret,
            max_events_per_batch=max_events_per_batch,
        ),
    )
    _print_subscription(sub, as_json)


def _print_subscription(sub: Any, as_json: bool) -> None:
    from hubbub.server.webhooks.subscriptions import to_arm

    if as_json:
        click.echo(json.dumps(to_arm(sub, _topic()), indent=2))
        return
    click.echo(f"{sub.name}: {sub.endpoint} ({sub.delivery_schema})")
    click.echo(f"  event types:  {', '.join(sub.event_types) if sub.event_types else 'all'}")
    click.echo(f"  subject:      begins with {sub.subject_begins_with!r}, ends with {sub.subject_ends_with!r}")
    click.echo(f"  retry policy: {sub.max_attempts} attempts, {sub.ttl_minutes} minutes")
    click.echo(f"  batches:      at most {sub.max_events_per_batch} event(s) per request")
    click.echo(f"  validated:    {'yes' if sub.validated_at is not None else 'not yet (handshake pending)'}")
    click.echo(f"  secret:       {sub.secret} (X-Hubbub-Delivery-Secret header)")


@subscriptions.command("list")
@DATA_DIR
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (ARM shape).")
def subscriptions_list(data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List the event subscriptions."""
    from hubbub.server.webhooks.subscriptions import to_arm

    subs = _with_subscriptions(data_dir, database_url, lambda service: service.list_subscriptions())
    if as_json:
        click.echo(json.dumps([to_arm(s, _topic()) for s in subs], indent=2))
        return
    for sub in subs:
        state = "validated" if sub.validated_at is not None else "awaiting handshake"
        click.echo(f"{sub.name}\t{sub.delivery_schema}\t{state}\t{sub.endpoint}")


@subscriptions.command("show")
@click.argument("name")
@DATA_DIR
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print JSON (ARM shape).")
def subscriptions_show(name: str, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Show the subscription NAME."""
    _print_subscription(_with_subscriptions(data_dir, database_url, lambda s: s.get_subscription(name)), as_json)


@subscriptions.command("delete")
@click.argument("name")
@DATA_DIR
@DATABASE_URL
def subscriptions_delete(name: str, data_dir: Path | None, database_url: str | None) -> None:
    """Delete the subscription NAME and the events still waiting for it."""
    _with_subscriptions(data_dir, database_url, lambda service: service.delete_subscription(name))
    click.echo(f"Deleted event subscription {name}.")


@subscriptions.command("deliveries")
@click.argument("name")
@DATA_DIR
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def subscriptions_deliveries(name: str, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Show the pending, failed and dead-lettered events of the subscription NAME."""
    from hubbub.server.webhooks.subscriptions import delivery_view

    items = [
        delivery_view(d)
        for d in _with_subscriptions(data_dir, database_url, lambda service: service.list_deliveries(name))
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    counts = {state: sum(1 for i in items if i["state"] == state) for state in ("pending", "failed", "deadLettered")}
    click.echo(", ".join(f"{n} {state}" for state, n in counts.items()))
    for item in items:
        click.echo(
            f"{item['state']}\t{item['attempts']} attempt(s)\t{item['eventType']}\t{item['subject']}"
            f"\t{item['lastError'] or ''}"
        )


@subscriptions.command("redeliver")
@click.argument("name")
@DATA_DIR
@DATABASE_URL
def subscriptions_redeliver(name: str, data_dir: Path | None, database_url: str | None) -> None:
    """Send the dead-lettered events of the subscription NAME again (a fresh retry policy)."""
    count = _with_subscriptions(data_dir, database_url, lambda service: service.redeliver(name))
    click.echo(f"Queued {count} dead-lettered event(s) of {name} for delivery.")
