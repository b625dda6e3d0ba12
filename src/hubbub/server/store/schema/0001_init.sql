-- Hubbub schema, version 1. Times are integer microseconds since the epoch; JSON is text.

CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    token_gen   INTEGER NOT NULL DEFAULT 0,  -- bumped by revoke: tokens carry the generation they were issued in
    deleted_at  BIGINT
);

CREATE TABLE threads (
    id                TEXT PRIMARY KEY,
    topic             TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    deleted_at        BIGINT,
    metadata          TEXT,
    retention_policy  TEXT,
    delete_after      BIGINT,                 -- retention deadline, when a policy sets one
    last_seq          BIGINT NOT NULL DEFAULT 0,
    last_message_id   BIGINT NOT NULL DEFAULT 0,
    last_message_at   BIGINT NOT NULL
);
CREATE INDEX threads_delete_after ON threads (delete_after);

-- Idempotent thread creation: one row per (caller, repeatability-request-id).
CREATE TABLE thread_requests (
    creator     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (creator, request_id)
);
CREATE INDEX thread_requests_created ON thread_requests (created_at);

CREATE TABLE participants (
    thread_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    display_name  TEXT,
    share_history_time BIGINT,
    metadata      TEXT,
    added_at      BIGINT NOT NULL,
    visible_from  BIGINT NOT NULL,            -- shareHistoryTime, or the moment the participant was added
    removed_at    BIGINT,
    PRIMARY KEY (thread_id, user_id)
);
CREATE INDEX participants_user ON participants (user_id, removed_at);

CREATE TABLE messages (
    thread_id    TEXT NOT NULL,
    id           BIGINT NOT NULL,             -- epoch milliseconds, unique and increasing per thread
    seq          BIGINT NOT NULL,
    type         TEXT NOT NULL,
    sender_id    TEXT,
    sender_display_name TEXT,
    content      TEXT,                        -- text/html body, or JSON for system messages
    metadata     TEXT,
    created_at   BIGINT NOT NULL,
    edited_at    BIGINT,
    deleted_at   BIGINT,
    version      BIGINT NOT NULL,
    PRIMARY KEY (thread_id, id)
);
CREATE UNIQUE INDEX messages_seq ON messages (thread_id, seq);
CREATE INDEX messages_created ON messages (thread_id, created_at);

CREATE TABLE read_receipts (
    thread_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    message_id  BIGINT NOT NULL,
    read_at     BIGINT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
