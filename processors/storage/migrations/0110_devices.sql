-- Device registry (owner: processors.registry.store). Idempotent: safe to apply repeatedly.
-- Runs with search_path set to the target schema (default "sensegate"): names stay unqualified.
-- Every change notifies channel '<schema>.device' so running DeviceRegistry instances reload at once.
CREATE TABLE IF NOT EXISTS device (
    family        text             NOT NULL CHECK (family IN ('v2x', 'agri', 'iiot')),
    device_id     text             NOT NULL,
    provider      text             NOT NULL,
    datasets      text[]           NOT NULL CHECK (cardinality(datasets) >= 1),
    codec         text,
    v2x_edition   text,
    v2x_framing   boolean          NOT NULL DEFAULT false,
    industrial_id text,
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    origin        text             NOT NULL DEFAULT 'cli',
    created_at    timestamptz      NOT NULL DEFAULT now(),
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (family, device_id)
);

CREATE OR REPLACE FUNCTION device_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.device', TG_OP);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS device_notify ON device;
CREATE TRIGGER device_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON device
    FOR EACH STATEMENT EXECUTE FUNCTION device_notify();

-- Quarantine records already re-produced to their raw topic, keyed by their own Kafka coordinates,
-- so approving twice does not replay them twice, while a message quarantined again (it raced the
-- registry refresh) has new coordinates and is replayed by the next approval.
CREATE TABLE IF NOT EXISTS quarantine_replay (
    quarantine_topic text        NOT NULL,
    partition        integer     NOT NULL,
    "offset"         bigint      NOT NULL,
    source_identity  text        NOT NULL,
    family           text        NOT NULL,
    device_id        text        NOT NULL,
    raw_topic        text        NOT NULL,
    replayed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (quarantine_topic, partition, "offset")
);
