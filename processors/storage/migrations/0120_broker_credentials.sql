-- Broker credentials issued by the device registry (owner: processors.registry.credentials).
-- Only a SHA-256 of the password and the client certificate's fingerprint/serial are kept, never
-- the secret itself. Idempotent; runs with search_path set to the target schema.
CREATE TABLE IF NOT EXISTS broker_credential (
    username          text        PRIMARY KEY,
    kind              text        NOT NULL,
    name              text        NOT NULL,
    secret_sha256     text,
    cert_sha256       text,
    cert_serial       numeric,
    issued_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz
);
