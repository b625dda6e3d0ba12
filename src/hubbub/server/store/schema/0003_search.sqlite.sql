-- Message search (docs/search.md): an FTS5 index of the text of every live text/html message.
--
-- `message_index` keeps its own copy of the indexed text: a message's plain text (`plain_text`,
-- written by the store for html) or its content (text). Its rowid is the message row's rowid;
-- `thread_id` and `message_id` name the message too, and every search joins on all three, so a
-- row that no longer matches its message can never be returned. `scope` holds one token per row,
-- 't' || hex(thread_id), so a search of some threads is one FTS query over those threads only.
-- The triggers keep the index in the writing transaction, on every path that writes messages
-- (send, edit, delete, thread delete, retention). Existing messages are indexed by the backfill
-- that `search_backfill` drives (store/search.py), batch by batch, with progress.

ALTER TABLE messages ADD COLUMN plain_text TEXT;  -- an html message's text, as the index sees it

CREATE VIRTUAL TABLE message_index USING fts5(
    body, scope, thread_id UNINDEXED, message_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0',
    columnsize = 0  -- no per-row size table: ranking is done by Hubbub, not bm25() (one write less per message)
);

CREATE TRIGGER message_index_insert AFTER INSERT ON messages
WHEN NEW.type IN ('text', 'html') AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO message_index (rowid, body, scope, thread_id, message_id)
    VALUES (NEW.rowid, CASE NEW.type WHEN 'html' THEN COALESCE(NEW.plain_text, NEW.content) ELSE NEW.content END,
            't' || hex(NEW.thread_id), NEW.thread_id, NEW.id);
END;

CREATE TRIGGER message_index_update AFTER UPDATE OF content, plain_text, deleted_at ON messages
WHEN NEW.type IN ('text', 'html')
BEGIN
    DELETE FROM message_index WHERE rowid = OLD.rowid;
    INSERT INTO message_index (rowid, body, scope, thread_id, message_id)
    SELECT NEW.rowid, CASE NEW.type WHEN 'html' THEN COALESCE(NEW.plain_text, NEW.content) ELSE NEW.content END,
           't' || hex(NEW.thread_id), NEW.thread_id, NEW.id
    WHERE NEW.deleted_at IS NULL;
END;

CREATE TRIGGER message_index_delete AFTER DELETE ON messages
WHEN OLD.type IN ('text', 'html')
BEGIN
    DELETE FROM message_index WHERE rowid = OLD.rowid;
END;

-- The backfill's cursor: the last message (thread_id, id) indexed; no row once it is done.
CREATE TABLE search_backfill (
    thread_id   TEXT NOT NULL,
    message_id  BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    done        BIGINT NOT NULL
);
INSERT INTO search_backfill (thread_id, message_id, total, done)
SELECT '', -1, (SELECT COUNT(*) FROM messages), 0 WHERE EXISTS (SELECT 1 FROM messages);
