-- Corrections of personal records, erasable (issue 18 item 4; owner: processors.provenance).
-- Idempotent. A correction of a personal dataset's record signs and logs its personal values only
-- as a salted commitment (the "_pi" member of new_values in the signed body), salted through the
-- subject key named by pi_key_id; the plain values stay in new_values for the <table>_current view.
-- Erasing the subject removes those members from new_values (and destroys the key): the body, its
-- signature and its leaf still verify, and nothing left opens the commitment.

ALTER TABLE correction ADD COLUMN IF NOT EXISTS pi_commitment text;
ALTER TABLE correction ADD COLUMN IF NOT EXISTS pi_key_id text;

-- Append-only, except an erasure that only removes members of new_values from a committed
-- correction, inside a transaction that declared itself an erasure (SET LOCAL sg.erasure = 'on').
CREATE OR REPLACE FUNCTION correction_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('sg.erasure', true) = 'on'
       AND OLD.pi_commitment IS NOT NULL
       AND (to_jsonb(NEW) - 'new_values') = (to_jsonb(OLD) - 'new_values')
       AND NEW.new_values IS NOT NULL AND NEW.new_values <@ OLD.new_values THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'table %.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS correction_append_only ON correction;
CREATE TRIGGER correction_append_only BEFORE UPDATE OR DELETE ON correction
    FOR EACH ROW EXECUTE FUNCTION correction_guard();
