DROP INDEX users_oidc_key;
ALTER TABLE users DROP CONSTRAINT users_oidc_pair, DROP COLUMN oidc_subject, DROP COLUMN oidc_issuer;
