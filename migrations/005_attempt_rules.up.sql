-- A student may give up an attempt to read its solution; Checks after that
-- are kept (and shown) but never count towards a grade.
ALTER TABLE environments ADD COLUMN gave_up_at timestamptz;
ALTER TABLE check_runs ADD COLUMN counted boolean NOT NULL DEFAULT true;
-- A student who has read a lab's solution (given up, or shown it) earns no
-- more grade in that lab, in this environment or any later one.
CREATE TABLE solution_views (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab_id  text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, lab_id)
);
-- An invite grants exactly the cohort role it was made for.
ALTER TABLE invites ADD COLUMN role cohort_role NOT NULL DEFAULT 'student';
