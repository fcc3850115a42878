ALTER TABLE check_results ALTER COLUMN weight TYPE integer USING round(weight);
ALTER TABLE check_runs ALTER COLUMN score TYPE integer USING floor(score), ALTER COLUMN max_score TYPE integer USING ceil(max_score);
