-- Message search (docs/search.md): a tsvector of the text of every live text/html message, with
-- a GIN index. The 'simple' configuration (lower-casing, no stemming, no stop words, no
-- unaccent) indexes words of every language the same way, as the SQLite engine does. Its
-- lower-casing follows the database's locale, which leaves non-ASCII letters alone in the C locale,
-- so the text is lower-cased first with the ICU root collation (the query too, store/search.py).
--
-- `search_vector` is set by a BEFORE trigger, so it is written in the writing statement, on every
-- path that writes messages (send, edit, delete); thread delete and retention delete the rows.
-- A trigger rather than a generated column so that existing rows are indexed by the backfill
-- (store/search.py), batch by batch with progress, instead of one table rewrite in this file.

ALTER TABLE messages ADD COLUMN plain_text TEXT;  -- an html message's text, as the index sees it
ALTER TABLE messages ADD COLUMN search_vector tsvector;

CREATE FUNCTION hubbub_message_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := CASE
        WHEN NEW.deleted_at IS NOT NULL THEN NULL
        WHEN NEW.type = 'text' THEN to_tsvector('simple', lower(NEW.content COLLATE "und-x-icu"))
        WHEN NEW.type = 'html' THEN to_tsvector('simple', lower(COALESCE(NEW.plain_text, NEW.content) COLLATE "und-x-icu"))
    END;
    RETURN NEW;
END
$$;

CREATE TRIGGER messages_search_vector BEFORE INSERT OR UPDATE OF content, plain_text, deleted_at ON messages
FOR EACH ROW EXECUTE FUNCTION hubbub_message_search_vector();

CREATE INDEX messages_search ON messages USING GIN (search_vector);

-- The backfill's cursor: the last message (thread_id, id) indexed; no row once it is done.
CREATE TABLE search_backfill (
    thread_id   TEXT NOT NULL,
    message_id  BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    done        BIGINT NOT NULL
);
INSERT INTO search_backfill (thread_id, message_id, total, done)
SELECT '', -1, (SELECT COUNT(*) FROM messages), 0 WHERE EXISTS (SELECT 1 FROM messages);
