-- Crypto-shredding of the Kafka copies (issue 18 item 4; owner: processors.provenance.personal).
-- Idempotent. A subject key gets a random id: records on the data and share topics carry the
-- subject's personal values sealed under the key (contracts/sealed.py) and name it by this id, so
-- a consumer finds the key without the subject; erasing the subject destroys the key (data_key
-- NULL), after which no copy in Kafka opens. The id is random, so it reveals nothing of the subject.

ALTER TABLE pi_subject_key
    ADD COLUMN IF NOT EXISTS key_id text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX IF NOT EXISTS pi_subject_key_id_idx ON pi_subject_key (key_id);

-- Keys may only be destroyed (data_key set to NULL, once), never changed or deleted; the id stays.
CREATE OR REPLACE FUNCTION pi_key_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.data_key IS NOT NULL AND NEW.data_key IS NULL
       AND NEW.dataset = OLD.dataset AND NEW.subject_ref = OLD.subject_ref
       AND NEW.key_id = OLD.key_id
       AND NEW.created_at = OLD.created_at AND NEW.destroyed_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'pi_subject_key: keys may only be destroyed (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
