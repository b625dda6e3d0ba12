-- The search index without GIN's pending list (`fastupdate`), so each send updates the index
-- itself. With the pending list, inserts are cheaper until the list passes gin_pending_list_limit
-- (4 MB); then the statement that passed it merges the whole list into the index, and on a large
-- database that took 20-140 ms, during which every send waited (sends share one grouped statement,
-- store/group_commit.py). Measured with the benchmark (W1 and W4, PostgreSQL + Redis, 1 worker, three
-- runs each, alternating): W4 (1 M messages) 4,142-4,256 sends/s with a p99.9 of 30-39 ms and stalls
-- up to 143 ms before, 4,393-4,650 with a p99.9 of 6-9 ms after; W1 (an empty database) costs
-- PostgreSQL about 6 µs more per send. Searches no longer scan a pending list either.
ALTER INDEX messages_search SET (fastupdate = off);
SELECT gin_clean_pending_list('messages_search');  -- the entries still pending go into the index now
