-- Webhooks (docs/webhooks.md): event subscriptions, the transactional outbox and the deliveries.
-- The SQLite twin of 0002_webhooks.postgres.sql: only the auto-increment keys differ.

CREATE TABLE event_subscriptions (
    name                TEXT PRIMARY KEY,
    endpoint            TEXT NOT NULL,
    delivery_schema     TEXT NOT NULL,            -- EventGridSchema | CloudEventSchemaV1_0
    event_types         TEXT,                     -- JSON list; NULL: every type
    subject_begins_with TEXT NOT NULL DEFAULT '',
    subject_ends_with   TEXT NOT NULL DEFAULT '',
    max_attempts        INTEGER NOT NULL,
    ttl_minutes         INTEGER NOT NULL,
    max_events_per_batch INTEGER NOT NULL DEFAULT 1,  -- events per request (Event Grid's maxEventsPerBatch)
    secret              TEXT NOT NULL,            -- sent with every delivery for the receiver to check
    validated_at        BIGINT,                   -- NULL until the endpoint answered the handshake
    created_at          BIGINT NOT NULL
);

-- One row per change, written in the transaction of the change; the worker turns it into events.
CREATE TABLE event_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    recipients  TEXT NOT NULL,                    -- JSON list: the thread's members at the change
    data        TEXT NOT NULL                     -- JSON: what the events of this kind need
);

-- One row per (subscription, event) until delivered; dead-lettered ones stay with status 'dead'.
CREATE TABLE event_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription  TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    event         TEXT NOT NULL,                  -- the Event Grid event, JSON
    created_at    BIGINT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',  -- pending | dead
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT
);
CREATE INDEX event_deliveries_due ON event_deliveries (status, next_at);
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription, status);
