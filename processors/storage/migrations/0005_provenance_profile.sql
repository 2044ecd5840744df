-- Which device profile mapped a message's fields, and the original value and unit of every item
-- the profile converted (canonical JSON text, hashed as stored). NULL for rows written before
-- profiles existed and for messages without conversions, so their row hashes are unchanged.
ALTER TABLE provenance ADD COLUMN IF NOT EXISTS profile text;
ALTER TABLE provenance ADD COLUMN IF NOT EXISTS source_values text;
