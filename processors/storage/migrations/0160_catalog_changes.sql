-- C14 catalog change control (owner: processors.catalog.change_log). Idempotent: safe to apply repeatedly.
-- Runs with search_path set to the target schema. Signers are the principals whose Ed25519 keys may
-- sign change events; events form one append-only hash chain (prev_sha256 -> body_sha256), each
-- signed by its actor's key, so an auditor can verify the history without trusting the database.
CREATE TABLE IF NOT EXISTS catalog_signer (
    key_id      text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    principal   text        NOT NULL,
    public_key  text        NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS catalog_change_event (
    seq          bigserial   PRIMARY KEY,
    change_id    text        NOT NULL,
    code         text        NOT NULL,
    action       text        NOT NULL CHECK (action IN ('proposed', 'reviewed', 'effective')),
    actor        text        NOT NULL,
    key_id       text        NOT NULL REFERENCES catalog_signer (key_id),
    body         jsonb       NOT NULL,
    body_sha256  text        NOT NULL UNIQUE CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    prev_sha256  text        NOT NULL,
    signature    text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS catalog_change_event_code ON catalog_change_event (code, seq);
CREATE INDEX IF NOT EXISTS catalog_change_event_change ON catalog_change_event (change_id, seq);

CREATE OR REPLACE FUNCTION catalog_change_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'catalog change log is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

DROP TRIGGER IF EXISTS catalog_change_append_only ON catalog_change_event;
CREATE TRIGGER catalog_change_append_only
    BEFORE UPDATE OR DELETE ON catalog_change_event
    FOR EACH ROW EXECUTE FUNCTION catalog_change_append_only();

DROP TRIGGER IF EXISTS catalog_signer_append_only ON catalog_signer;
CREATE TRIGGER catalog_signer_append_only
    BEFORE UPDATE OR DELETE ON catalog_signer
    FOR EACH ROW EXECUTE FUNCTION catalog_change_append_only();
