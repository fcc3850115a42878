DROP INDEX environments_queue;
ALTER TABLE environments DROP COLUMN time_limit;
