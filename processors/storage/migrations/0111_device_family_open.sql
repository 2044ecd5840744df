-- Device families are declared once, in contracts/families/ (owner: processors.registry.store).
-- 0110 restated the family set as a CHECK; applied migrations cannot change, so this one drops
-- that CHECK and keeps only the shape every family name has (a Kafka topic component). Which
-- families exist is checked by the Device model on every write and read of this table.
-- Idempotent: safe to apply repeatedly.
ALTER TABLE device DROP CONSTRAINT IF EXISTS device_family_check;
ALTER TABLE device DROP CONSTRAINT IF EXISTS device_family_name;
ALTER TABLE device ADD CONSTRAINT device_family_name CHECK (family ~ '^[a-z][a-z0-9_]{0,30}$');
