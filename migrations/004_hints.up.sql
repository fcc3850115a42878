-- Hints a student revealed, one at a time, per lab task; instructors see
-- how many were used.
CREATE TABLE hint_reveals (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab_id         text NOT NULL,
    task_id        text NOT NULL,
    hint_index     integer NOT NULL CHECK (hint_index >= 0),
    environment_id uuid REFERENCES environments (id) ON DELETE SET NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, lab_id, task_id, hint_index)
);
-- The cohort board looks up each student's newest environment.
CREATE INDEX environments_user_created ON environments (user_id, created_at DESC);
