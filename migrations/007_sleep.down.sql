ALTER TABLE environments DROP COLUMN last_seen_at;
ALTER TABLE environments DROP COLUMN paused_at;
