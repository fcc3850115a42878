-- How long an environment may be used once started (the lab's time limit
-- plus grace); expires_at = started_at + time_limit, extended on request.
ALTER TABLE environments ADD COLUMN time_limit interval NOT NULL DEFAULT interval '1 hour';
-- Work queues pick rows by state; owned requests before pool refills.
CREATE INDEX environments_queue ON environments (state, pooled, created_at);
