-- The search index of new messages is written after their commit, in batches, not by a trigger in
-- the sending transaction (store/search.py: `index_pending`, which the writer runs every 1,000
-- writes, half a second after the last one, at start, on close, and before every search). A send then pays for its
-- row of `messages` only: the FTS5 insert was 14-15 µs of the writer's 32 µs per send, and in
-- batches of 1,000 it costs about 2.5.
--
-- `search_indexed.last_rowid` divides `messages`: every message at or below it is in the index as
-- before (the triggers keep it there through edits, deletes and the backfill), and none above it
-- is; `index_pending` indexes the rows above it, as they are then, and moves it up in the same
-- transaction. A message edited or deleted before it was indexed is indexed as it is by then.

DROP TRIGGER message_index_insert;

CREATE TABLE search_indexed (last_rowid INTEGER NOT NULL);
INSERT INTO search_indexed (last_rowid) SELECT COALESCE(MAX(rowid), 0) FROM messages;

DROP TRIGGER message_index_update;
CREATE TRIGGER message_index_update AFTER UPDATE OF content, plain_text, deleted_at ON messages
WHEN NEW.type IN ('text', 'html') AND OLD.rowid <= (SELECT last_rowid FROM search_indexed)
BEGIN
    DELETE FROM message_index WHERE rowid = OLD.rowid;
    INSERT INTO message_index (rowid, body, scope, thread_id, message_id)
    SELECT NEW.rowid, CASE NEW.type WHEN 'html' THEN COALESCE(NEW.plain_text, NEW.content) ELSE NEW.content END,
           't' || hex(NEW.thread_id), NEW.thread_id, NEW.id
    WHERE NEW.deleted_at IS NULL;
END;

DROP TRIGGER message_index_delete;
-- SQLite gives a new row the largest rowid plus one: once the rows at the top are deleted, their
-- rowids come back. The mark then follows the largest rowid down, so that a reused rowid is above
-- it; after the row has left the index (one trigger: its statements run in this order).
CREATE TRIGGER message_index_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_index
    WHERE rowid = OLD.rowid AND OLD.type IN ('text', 'html') AND OLD.rowid <= (SELECT last_rowid FROM search_indexed);
    UPDATE search_indexed SET last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM messages)
    WHERE last_rowid > (SELECT COALESCE(MAX(rowid), 0) FROM messages);
END;
