-- Erasure of personal data (Arts. 41-44; owner: processors.provenance.erasure). Idempotent.
-- pi_subject_key holds one random key per data subject of a personal dataset; the salt of each of
-- the subject's logged commitments derives from it. Erasure sets data_key to NULL (the key is gone),
-- records the commitment in pi_erased and nulls the personal columns of the subject's rows.

CREATE TABLE IF NOT EXISTS pi_subject_key (
    dataset      text        NOT NULL,
    subject_ref  text        NOT NULL,
    data_key     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    legal_basis  text,
    CHECK ((data_key IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS pi_subject_key_live_idx
    ON pi_subject_key (dataset, subject_ref) WHERE data_key IS NOT NULL;

-- What an erased row's leaf committed to (its personal columns' salted commitment), kept so
-- that `provenance verify` and proofs still hold after the values and the key are gone.
CREATE TABLE IF NOT EXISTS pi_erased (
    dataset       text        NOT NULL,
    record_id     text        NOT NULL,
    observed_at   timestamptz NOT NULL,
    commitment    text        NOT NULL,
    correction_id text        NOT NULL,
    erased_at     timestamptz NOT NULL,
    PRIMARY KEY (dataset, record_id, observed_at)
);

-- Keys may only be destroyed (data_key set to NULL, once), never changed or deleted.
CREATE OR REPLACE FUNCTION pi_key_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.data_key IS NOT NULL AND NEW.data_key IS NULL
       AND NEW.dataset = OLD.dataset AND NEW.subject_ref = OLD.subject_ref
       AND NEW.created_at = OLD.created_at AND NEW.destroyed_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'pi_subject_key: keys may only be destroyed (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS pi_subject_key_guard ON pi_subject_key;
CREATE TRIGGER pi_subject_key_guard BEFORE UPDATE OR DELETE ON pi_subject_key
    FOR EACH ROW EXECUTE FUNCTION pi_key_guard();

-- Dataset tables of personal datasets: append-only, except an erasure that nulls exactly the
-- personal columns (TG_ARGV[1..]) of a row whose erasure is recorded in pi_erased, inside a
-- transaction that declared itself an erasure (SET LOCAL sg.erasure = 'on'; not named
-- sensegate.*, which the migration runner would rewrite for a test schema).
CREATE OR REPLACE FUNCTION erasure_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols text[] := TG_ARGV[1:TG_NARGS - 1];
    n jsonb;
    o jsonb;
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('sg.erasure', true) = 'on' THEN
        n := to_jsonb(NEW);
        o := to_jsonb(OLD);
        IF (n - cols) = (o - cols)
           AND NOT EXISTS (SELECT 1 FROM jsonb_each(n) AS e
                           WHERE e.key = ANY (cols) AND e.value <> 'null'::jsonb)
           AND EXISTS (SELECT 1 FROM pi_erased AS p
                       WHERE p.dataset = TG_ARGV[0] AND p.record_id = OLD.record_id
                         AND p.observed_at = OLD.observed_at) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'table %.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
        JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE g.tgname = 'pi_erased_append_only' AND c.relname = 'pi_erased'
          AND s.nspname = current_schema()
    ) THEN
        CREATE TRIGGER pi_erased_append_only BEFORE UPDATE OR DELETE ON pi_erased
            FOR EACH ROW EXECUTE FUNCTION append_only_guard();
    END IF;
END;
$$;
