-- Idle environments are paused (their node containers frozen): warm pool
-- clusters until claimed, students' environments nobody has used for a
-- while. paused_at is set while frozen. last_seen_at is the student's page
-- or a terminal being open, which keeps an environment awake without
-- counting as activity on the instructor's board.
ALTER TABLE environments ADD COLUMN paused_at timestamptz;
ALTER TABLE environments ADD COLUMN last_seen_at timestamptz;
