-- Objection cases (Art. 30; owner: processors.objections). Idempotent: safe to apply repeatedly.
-- A case row is written once; its state is its latest event. Events are signed and chained per
-- case (prev = SHA-256 of the previous event's signed body) and, like the cases, append-only.
CREATE SCHEMA IF NOT EXISTS sensegate;

CREATE TABLE IF NOT EXISTS sensegate.objection_case (
    case_id          text        PRIMARY KEY,
    dataset          text        NOT NULL,
    record_id        text,
    natural_key      text,
    provider         text        NOT NULL,
    objector         text        NOT NULL,
    objector_kind    text        NOT NULL CHECK (objector_kind IN ('unit', 'public')),
    claim            text        NOT NULL,
    evidence         text        NOT NULL DEFAULT '',
    proposed_values  jsonb,
    contact          text,
    received_at      timestamptz NOT NULL,
    due_at           timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS objection_case_provider_idx ON sensegate.objection_case (provider, due_at);
CREATE INDEX IF NOT EXISTS objection_case_objector_idx ON sensegate.objection_case (objector);

CREATE TABLE IF NOT EXISTS sensegate.objection_event (
    case_id    text        NOT NULL REFERENCES sensegate.objection_case (case_id),
    seq        integer     NOT NULL CHECK (seq >= 1),
    state      text        NOT NULL
               CHECK (state IN ('RECEIVED', 'ACCEPTED', 'REJECTED', 'CORRECTED', 'UPHELD',
                                'ANSWERED', 'CLOSED')),
    actor      text        NOT NULL,
    at         timestamptz NOT NULL,
    body       text        NOT NULL,
    signature  text        NOT NULL,
    key_id     text        NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Which correction events have reached Kafka (corrections topic, share and open topics).
-- Publication is idempotent, so a missing row only means "publish again".
CREATE TABLE IF NOT EXISTS sensegate.correction_publication (
    correction_id text        PRIMARY KEY,
    published_at  timestamptz NOT NULL,
    outputs       integer     NOT NULL
);

-- Unit credentials of the objection API: only a SHA-256 of each random token is kept.
CREATE TABLE IF NOT EXISTS sensegate.objection_unit_token (
    token_sha256 text        PRIMARY KEY,
    unit         text        NOT NULL CHECK (unit ~ '^[a-z0-9_]{1,64}$'),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['objection_case', 'objection_event'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE g.tgname = t || '_append_only' AND c.relname = t
              AND n.nspname = current_schema()
        ) THEN
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW '
                'EXECUTE FUNCTION append_only_guard()', t || '_append_only', t);
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                'EXECUTE FUNCTION append_only_guard()', t || '_no_truncate', t);
        END IF;
    END LOOP;
END;
$$;
