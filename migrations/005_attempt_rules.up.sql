-- A student may give up an attempt to read its solution; Checks after that
-- are kept (and shown) but never count towards a grade.
ALTER TABLE environments ADD COLUMN gave_up_at timestamptz;
ALTER TABLE check_runs ADD COLUMN counted boolean NOT NULL DEFAULT true;
-- An invite grants exactly the cohort role it was made for.
ALTER TABLE invites ADD COLUMN role cohort_role NOT NULL DEFAULT 'student';
