CREATE TYPE user_role AS ENUM ('student', 'instructor', 'admin');

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    role          user_role NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    CONSTRAINT users_email_lower CHECK (email = lower(email) AND email LIKE '%_@_%')
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE web_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    user_agent   text NOT NULL DEFAULT '',
    CONSTRAINT web_sessions_expiry CHECK (expires_at > created_at)
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE cohorts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz,
    -- Whether students may see a lab's solution after an attempt.
    show_solutions boolean NOT NULL DEFAULT false
);

CREATE TYPE cohort_role AS ENUM ('student', 'instructor');

CREATE TABLE cohort_members (
    cohort_id uuid NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      cohort_role NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cohort_id, user_id)
);
CREATE INDEX cohort_members_user ON cohort_members (user_id);

-- An invite with an email is for that person only and used once; one
-- without is a cohort link anyone may use until it expires.
CREATE TABLE invites (
    id         uuid PRIMARY KEY,
    cohort_id  uuid NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    email      text CHECK (email IS NULL OR email = lower(email)),
    token_hash bytea NOT NULL UNIQUE,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_by    uuid REFERENCES users (id),
    CONSTRAINT invites_used CHECK ((used_at IS NULL) = (used_by IS NULL)),
    CONSTRAINT invites_link_unused CHECK (email IS NOT NULL OR used_at IS NULL)
);
CREATE UNIQUE INDEX invites_cohort_email ON invites (cohort_id, email) WHERE email IS NOT NULL AND used_at IS NULL;

-- An environment is one student's cluster for one lab attempt (or a warm
-- pool cluster not yet claimed). The state machine is enforced here.
CREATE TYPE environment_state AS ENUM (
    'requested', 'provisioning', 'ready', 'in_use', 'expired', 'deleting', 'deleted', 'failed'
);

CREATE TABLE environments (
    id             uuid PRIMARY KEY,
    user_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    lab_id         text,
    cohort_id      uuid REFERENCES cohorts (id) ON DELETE SET NULL,
    state          environment_state NOT NULL DEFAULT 'requested',
    topology       text NOT NULL,
    k8s_version    text NOT NULL,
    cluster_name   text NOT NULL UNIQUE,
    kubeconfig     text,
    nodes          jsonb NOT NULL DEFAULT '[]',
    pooled         boolean NOT NULL DEFAULT false,
    failure        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    ready_at       timestamptz,
    started_at     timestamptz,
    expires_at     timestamptz,
    ended_at       timestamptz,
    last_activity_at timestamptz,
    CONSTRAINT environments_failed_has_reason CHECK ((state = 'failed') = (failure IS NOT NULL)),
    CONSTRAINT environments_in_use_has_owner CHECK (state <> 'in_use' OR (user_id IS NOT NULL AND lab_id IS NOT NULL AND started_at IS NOT NULL AND expires_at IS NOT NULL)),
    CONSTRAINT environments_ready_has_kubeconfig CHECK (state NOT IN ('ready', 'in_use') OR kubeconfig IS NOT NULL),
    CONSTRAINT environments_pool_unowned CHECK (NOT pooled OR (user_id IS NULL AND state IN ('requested', 'provisioning', 'ready', 'deleting', 'deleted', 'failed')))
);
CREATE INDEX environments_user ON environments (user_id, state);
CREATE INDEX environments_live ON environments (state) WHERE state NOT IN ('deleted');

CREATE TABLE environment_events (
    id             bigserial PRIMARY KEY,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL DEFAULT now(),
    phase          text NOT NULL,
    message        text NOT NULL DEFAULT ''
);
CREATE INDEX environment_events_env ON environment_events (environment_id, id);

-- One press of Check; its per-check results follow.
CREATE TABLE check_runs (
    id             uuid PRIMARY KEY,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab_id         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    duration_ms    integer NOT NULL CHECK (duration_ms >= 0),
    score          integer NOT NULL CHECK (score >= 0),
    max_score      integer NOT NULL CHECK (max_score >= score)
);
CREATE INDEX check_runs_user_lab ON check_runs (user_id, lab_id, created_at DESC);

CREATE TABLE check_results (
    run_id   uuid NOT NULL REFERENCES check_runs (id) ON DELETE CASCADE,
    task_id  text NOT NULL,
    check_id text NOT NULL,
    passed   boolean NOT NULL,
    weight   integer NOT NULL CHECK (weight >= 0),
    message  text NOT NULL,
    evidence jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, task_id, check_id)
);

CREATE TABLE audit_events (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
    action   text NOT NULL,
    target   text NOT NULL DEFAULT '',
    details  jsonb NOT NULL DEFAULT '{}',
    client   text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at DESC);

-- Legal state transitions; anything else is refused by the database.
CREATE FUNCTION environment_transition_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF (OLD.state, NEW.state) NOT IN (
        ('requested', 'provisioning'), ('requested', 'deleting'), ('requested', 'failed'),
        ('provisioning', 'ready'), ('provisioning', 'failed'), ('provisioning', 'deleting'),
        ('ready', 'in_use'), ('ready', 'deleting'), ('ready', 'failed'),
        ('in_use', 'expired'), ('in_use', 'deleting'), ('in_use', 'failed'),
        ('expired', 'deleting'),
        ('deleting', 'deleted'), ('deleting', 'failed'),
        ('failed', 'deleting')
    ) THEN
        RAISE EXCEPTION 'environment %: illegal state transition % -> %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER environments_transition BEFORE UPDATE OF state ON environments
    FOR EACH ROW EXECUTE FUNCTION environment_transition_check();
