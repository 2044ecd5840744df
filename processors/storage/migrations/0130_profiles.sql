-- Device profiles (owner: processors.profiles.store). Idempotent: safe to apply repeatedly.
-- Runs with search_path set to the target schema (default "sensegate"): names stay unqualified.
-- One row per (profile name, version); rows are history and are never updated or deleted, because
-- a device is bound to the exact version that decodes its payloads.
CREATE TABLE IF NOT EXISTS device_profile (
    name           text        NOT NULL,
    version        integer     NOT NULL CHECK (version >= 1),
    family         text        NOT NULL,
    codec          text        NOT NULL,
    dataset        text        NOT NULL,
    definition     jsonb       NOT NULL,
    content_sha256 text        NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    registered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

CREATE OR REPLACE FUNCTION device_profile_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'device_profile is append-only: register a new version instead of % on %/%',
        TG_OP, OLD.name, OLD.version
        USING ERRCODE = 'restrict_violation';
END;
$$;

DROP TRIGGER IF EXISTS device_profile_append_only ON device_profile;
CREATE TRIGGER device_profile_append_only
    BEFORE UPDATE OR DELETE ON device_profile
    FOR EACH ROW EXECUTE FUNCTION device_profile_append_only();

-- A device is bound to one profile version (NULL: no profile; its uplinks that need one are
-- dead-lettered as no_profile).
ALTER TABLE device ADD COLUMN IF NOT EXISTS profile text;
ALTER TABLE device ADD COLUMN IF NOT EXISTS profile_version integer CHECK (profile_version >= 1);

-- Device health per window (owner: processors.health.store): what the normalize stage saw of each
-- device, as deltas added by every normalize instance. Counters are monitoring figures: a batch
-- redone after a crash may be counted twice (see docs/profiles.md, device health).
CREATE TABLE IF NOT EXISTS device_health (
    family          text             NOT NULL,
    device_id       text             NOT NULL,
    window_start    timestamptz      NOT NULL,
    messages        bigint           NOT NULL DEFAULT 0,
    records         bigint           NOT NULL DEFAULT 0,
    dead_letters    jsonb            NOT NULL DEFAULT '{}'::jsonb,
    counter_gaps    bigint           NOT NULL DEFAULT 0,
    counter_resets  bigint           NOT NULL DEFAULT 0,
    skew_ms_sum     double precision NOT NULL DEFAULT 0,
    skew_ms_max     double precision NOT NULL DEFAULT 0,
    skew_n          bigint           NOT NULL DEFAULT 0,
    first_seen      timestamptz      NOT NULL,
    last_seen       timestamptz      NOT NULL,
    PRIMARY KEY (family, device_id, window_start)
);
CREATE INDEX IF NOT EXISTS device_health_last_seen ON device_health (last_seen);

-- One row per registered device over the last 24 hours: what an operator asks first.
CREATE OR REPLACE VIEW device_health_day AS
SELECT d.family, d.device_id, d.provider, d.datasets, d.profile, d.profile_version,
       max(h.last_seen)                       AS last_seen,
       coalesce(sum(h.messages), 0)           AS messages,
       coalesce(sum(h.records), 0)            AS records,
       coalesce(sum(h.counter_gaps), 0)       AS counter_gaps,
       CASE WHEN sum(h.skew_n) > 0 THEN sum(h.skew_ms_sum) / sum(h.skew_n) END AS skew_ms_mean,
       max(h.skew_ms_max)                     AS skew_ms_max,
       (SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb) FROM (
            SELECT e.key AS k, sum(e.value::bigint) AS n
              FROM device_health h2, jsonb_each_text(h2.dead_letters) e
             WHERE h2.family = d.family AND h2.device_id = d.device_id
               AND h2.window_start >= now() - interval '24 hours'
             GROUP BY e.key) x)               AS dead_letters
  FROM device d
  LEFT JOIN device_health h
    ON h.family = d.family AND h.device_id = d.device_id
   AND h.window_start >= now() - interval '24 hours'
 GROUP BY d.family, d.device_id, d.provider, d.datasets, d.profile, d.profile_version;
