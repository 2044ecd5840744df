-- Objection cases (Art. 30; owner: processors.objections). Idempotent: safe to apply repeatedly.
-- A case row is written once; its state is its latest event. Events are signed and chained per
-- case (prev = SHA-256 of the previous event's signed body) and, like the cases, append-only.
-- The trigger block was rewritten without changing its effect; a database that applied the
-- earlier text keeps it (migrate.py):
-- replaces-checksum: 572f6426da5b929f99d99ab5fd0f056f17832910ac2decf80b48ac69746272bf
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

-- Append-only like the provenance tables (0001): the same guard, named per table.
CREATE OR REPLACE TRIGGER objection_case_append_only BEFORE UPDATE OR DELETE
    ON sensegate.objection_case FOR EACH ROW EXECUTE FUNCTION sensegate.append_only_guard();
CREATE OR REPLACE TRIGGER objection_case_no_truncate BEFORE TRUNCATE
    ON sensegate.objection_case FOR EACH STATEMENT EXECUTE FUNCTION sensegate.append_only_guard();
CREATE OR REPLACE TRIGGER objection_event_append_only BEFORE UPDATE OR DELETE
    ON sensegate.objection_event FOR EACH ROW EXECUTE FUNCTION sensegate.append_only_guard();
CREATE OR REPLACE TRIGGER objection_event_no_truncate BEFORE TRUNCATE
    ON sensegate.objection_event FOR EACH STATEMENT EXECUTE FUNCTION sensegate.append_only_guard();
