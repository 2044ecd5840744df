-- Core tables of the sink and the tamper-evident log.
-- Runs with search_path set to the target schema (default "sensegate"): names stay unqualified.

-- Refuses UPDATE and DELETE: tables that only ever grow (log, provenance, corrections, data rows).
CREATE OR REPLACE FUNCTION append_only_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table %.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Kafka offsets of the sink, written in the same transaction as the rows (compare-and-set).
CREATE TABLE IF NOT EXISTS ingest_offset (
    group_id    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- One row per raw message (and dataset it fed): where a stored record came from.
CREATE TABLE IF NOT EXISTS provenance (
    provenance_id     text        PRIMARY KEY,
    raw_sha256        text        NOT NULL,
    device_id         text        NOT NULL,
    gateway_id        text        NOT NULL,
    mqtt_topic        text        NOT NULL,
    received_at       timestamptz NOT NULL,
    received_ns       bigint      NOT NULL,
    raw_topic         text        NOT NULL,
    raw_partition     integer     NOT NULL,
    raw_offset        bigint      NOT NULL,
    codec             text        NOT NULL,
    codec_version     text        NOT NULL,
    processor_version text        NOT NULL,
    pseudonym_key_id  text,
    catalog_code      text        NOT NULL,
    catalog_version   integer     NOT NULL,
    data_topic        text        NOT NULL,
    data_partition    integer     NOT NULL,
    data_offset       bigint      NOT NULL,
    ingested_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS provenance_raw_idx ON provenance (raw_topic, raw_partition, raw_offset);
CREATE INDEX IF NOT EXISTS provenance_ingested_idx ON provenance (ingested_at);

-- Leaves of the log: one per provenance row, data row and correction event, in sequence per period.
CREATE TABLE IF NOT EXISTS tlog_leaf (
    period_start timestamptz NOT NULL,
    leaf_index   bigint      NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('provenance', 'record', 'correction')),
    dataset      text        NOT NULL,
    ref_id       text        NOT NULL,
    observed_at  timestamptz,
    source       text        NOT NULL,
    chain_seq    bigint      NOT NULL,
    row_sha256   text        NOT NULL,
    chain_prev   text        NOT NULL,
    leaf_hash    text        NOT NULL,
    logged_at    timestamptz NOT NULL,
    PRIMARY KEY (period_start, leaf_index)
);
CREATE INDEX IF NOT EXISTS tlog_leaf_ref_idx ON tlog_leaf (ref_id, kind);

-- Sequencing state: size of each period's tree (the row lock serializes writers of a period).
CREATE TABLE IF NOT EXISTS tlog_head (
    period_start timestamptz PRIMARY KEY,
    size         bigint NOT NULL
);

-- Last leaf hash of each source's hash chain.
CREATE TABLE IF NOT EXISTS tlog_chain_head (
    source    text PRIMARY KEY,
    last_hash text   NOT NULL,
    length    bigint NOT NULL
);

-- Signed checkpoints, chained by the hash of the previous checkpoint.
CREATE TABLE IF NOT EXISTS tlog_checkpoint (
    checkpoint_seq bigint      PRIMARY KEY,
    period_start   timestamptz NOT NULL,
    tree_size      bigint      NOT NULL,
    root           text        NOT NULL,
    body           text        NOT NULL,
    signature      text        NOT NULL,
    key_id         text        NOT NULL,
    public_key     text        NOT NULL,
    frontier       text[]      NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tlog_checkpoint_period_idx ON tlog_checkpoint (period_start, tree_size);

-- Corrections and lawful erasures (Art. 30): signed events superseding a record, never edits.
CREATE TABLE IF NOT EXISTS correction (
    correction_id text        PRIMARY KEY,
    dataset       text        NOT NULL,
    record_id     text        NOT NULL,
    observed_at   timestamptz NOT NULL,
    action        text        NOT NULL CHECK (action IN ('correct', 'erase')),
    new_values    jsonb,
    reason        text        NOT NULL,
    legal_basis   text,
    supersedes    text,
    created_at    timestamptz NOT NULL,
    body          text        NOT NULL,
    signature     text        NOT NULL,
    key_id        text        NOT NULL
);
CREATE INDEX IF NOT EXISTS correction_record_idx ON correction (dataset, record_id, created_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['provenance', 'tlog_leaf', 'tlog_checkpoint', 'correction'] LOOP
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
