ALTER TABLE invites DROP COLUMN role;
DROP TABLE solution_views;
ALTER TABLE check_runs DROP COLUMN counted;
ALTER TABLE environments DROP COLUMN gave_up_at;
