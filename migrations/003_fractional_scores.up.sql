-- A task's weight is shared by its checks: scores have fractions.
ALTER TABLE check_runs ALTER COLUMN score TYPE numeric(8,2), ALTER COLUMN max_score TYPE numeric(8,2);
ALTER TABLE check_results ALTER COLUMN weight TYPE numeric(8,2);
