DROP INDEX environments_user_created;
DROP TABLE hint_reveals;
