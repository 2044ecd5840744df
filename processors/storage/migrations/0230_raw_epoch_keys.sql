-- Raw payloads sealed per device and epoch (issue 18 item 4; owners: gateway.sealing, the
-- normalizer, processors.provenance.rawshred). Idempotent. The gateway seals each raw payload of a
-- family holding personal data under a random key per (family, device, epoch), registered here
-- before its first use (one write per device and epoch); the normalizer opens it. Erasing a data
-- subject requests the destruction of the keys of the epochs that carried the subject's messages
-- (shred_requested_at); a key is destroyed once its epoch is closed and normalized.

CREATE TABLE IF NOT EXISTS raw_epoch_key (
    family             text        NOT NULL,
    device_id          text        NOT NULL,
    epoch_start_ns     bigint      NOT NULL,
    epoch_end_ns       bigint      NOT NULL,
    key_id             text        NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', ''),
    data_key           bytea,
    created_at         timestamptz NOT NULL DEFAULT now(),
    shred_requested_at timestamptz,
    legal_basis        text,
    destroyed_at       timestamptz,
    PRIMARY KEY (family, device_id, epoch_start_ns),
    CHECK (epoch_end_ns > epoch_start_ns),
    CHECK ((data_key IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS raw_epoch_key_id_idx ON raw_epoch_key (key_id);
CREATE INDEX IF NOT EXISTS raw_epoch_key_pending_idx ON raw_epoch_key (shred_requested_at)
    WHERE shred_requested_at IS NOT NULL AND data_key IS NOT NULL;

-- A raw key is never changed or deleted: a destruction may be requested once, and the key destroyed once.
CREATE OR REPLACE FUNCTION raw_key_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.family = OLD.family AND NEW.device_id = OLD.device_id
       AND NEW.epoch_start_ns = OLD.epoch_start_ns AND NEW.epoch_end_ns = OLD.epoch_end_ns
       AND NEW.key_id = OLD.key_id AND NEW.created_at = OLD.created_at
       AND NEW.shred_requested_at IS NOT NULL
       AND (OLD.shred_requested_at IS NULL OR NEW.shred_requested_at = OLD.shred_requested_at)
       AND ((OLD.data_key IS NOT NULL AND NEW.data_key IS NOT DISTINCT FROM OLD.data_key
             AND NEW.destroyed_at IS NULL AND OLD.shred_requested_at IS NULL)
            OR (OLD.data_key IS NOT NULL AND NEW.data_key IS NULL AND NEW.destroyed_at IS NOT NULL)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'raw_epoch_key: keys may only be marked for and then destroyed (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS raw_epoch_key_guard ON raw_epoch_key;
CREATE TRIGGER raw_epoch_key_guard BEFORE UPDATE OR DELETE ON raw_epoch_key
    FOR EACH ROW EXECUTE FUNCTION raw_key_guard();
