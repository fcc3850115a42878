-- A cluster whose creation a server restart cut short is created again,
-- up to a limit: restarts counts those attempts, and such an environment
-- goes back from provisioning to requested.
ALTER TABLE environments ADD COLUMN restarts integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION environment_transition_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF (OLD.state, NEW.state) NOT IN (
        ('requested', 'provisioning'), ('requested', 'deleting'), ('requested', 'failed'),
        ('provisioning', 'ready'), ('provisioning', 'failed'), ('provisioning', 'deleting'),
        ('provisioning', 'requested'),
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
