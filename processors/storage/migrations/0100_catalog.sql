-- Catalog registrations (owner: processors.catalog.store). Idempotent: safe to apply repeatedly.
-- Runs with search_path set to the target schema (default "sensegate"): names stay unqualified.
-- One row per (dataset code, catalog version); rows are history and are never updated or deleted,
-- because stored records cite the version that was in force when they were ingested.
CREATE TABLE IF NOT EXISTS catalog_entry (
    code           text        NOT NULL,
    version        integer     NOT NULL CHECK (version >= 1),
    definition     jsonb       NOT NULL,
    content_sha256 text        NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    provider       text        NOT NULL,
    grade          text        NOT NULL,
    share_class    text        NOT NULL,
    open_class     text        NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, version)
);

CREATE INDEX IF NOT EXISTS catalog_entry_content ON catalog_entry (code, content_sha256);

CREATE OR REPLACE FUNCTION catalog_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'catalog_entry is append-only: register a new version instead of % on %/%',
        TG_OP, OLD.code, OLD.version
        USING ERRCODE = 'restrict_violation';
END;
$$;

DROP TRIGGER IF EXISTS catalog_entry_append_only ON catalog_entry;
CREATE TRIGGER catalog_entry_append_only
    BEFORE UPDATE OR DELETE ON catalog_entry
    FOR EACH ROW EXECUTE FUNCTION catalog_entry_append_only();
