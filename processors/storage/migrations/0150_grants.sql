-- Access grants for share and open topics (owner: processors.grants). Idempotent: safe to apply repeatedly.
-- One row per application; its Kafka principal exists exactly while status = 'approved'.
CREATE SCHEMA IF NOT EXISTS sensegate;

CREATE TABLE IF NOT EXISTS sensegate.access_grant (
    grant_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    applicant        text        NOT NULL CHECK (applicant ~ '^[a-z0-9_]{1,64}$'),
    dataset          text        NOT NULL,
    tier             text        NOT NULL CHECK (tier IN ('share', 'open')),
    purpose          text        NOT NULL,
    scope            text        NOT NULL,
    legal_basis      text        NOT NULL,
    valid_until      timestamptz NOT NULL,
    catalog_version  integer     NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'refused', 'revoked', 'expired')),
    topics           text[]      NOT NULL DEFAULT '{}',
    principal        text,
    group_prefix     text,
    refusal_reason   text,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    decided_by       text,
    ended_at         timestamptz
);

CREATE INDEX IF NOT EXISTS access_grant_status_idx ON sensegate.access_grant (status, valid_until);

-- Audit trail of every decision (C12: an expired or refused access is audited).
CREATE TABLE IF NOT EXISTS sensegate.access_grant_event (
    event_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_id   bigint      NOT NULL REFERENCES sensegate.access_grant (grant_id),
    at         timestamptz NOT NULL DEFAULT now(),
    action     text        NOT NULL,
    actor      text        NOT NULL,
    detail     text
);
