-- Message ids, sequence ids and creation times all increase together inside a thread
-- (`store.threads.next_message_slot`), so the primary key (thread_id, id) orders a thread's messages
-- as `messages_seq` did: list_messages now walks the primary key and its nextLink carries a message
-- id. Each send then writes one index entry fewer (bench.writer, SQLite: 26 -> 19 µs a send).
DROP INDEX messages_seq;
