-- Least privilege (issue 15): the few DDL actions a service role may trigger, as narrow functions.
-- Runs with search_path set to the target schema (default "sensegate"); calls between the
-- SECURITY DEFINER functions (pinned search_path) name "sensegate.", which the runner retargets.
-- Table privileges of the service roles are (re)applied by processors.storage.roles after every
-- migration run, because dataset tables appear with the catalog.

-- Retention of each dataset table as registered by the migration runner (owner only writes it):
-- the sink may drop expired partitions, but cannot shorten what "expired" means.
CREATE TABLE IF NOT EXISTS dataset_retention (
    storage_table  text    PRIMARY KEY,
    retention_days integer NOT NULL CHECK (retention_days >= 1)
);

-- Schema and name of a partitioned table; refuses anything else (the functions below act on those only).
CREATE OR REPLACE FUNCTION partitioned_table(parent regclass, OUT nsp text, OUT rel text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent AND c.relkind = 'p';
    IF rel IS NULL THEN
        RAISE EXCEPTION '% is not a partitioned table', parent USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

-- Create the monthly partition of a partitioned table holding MONTH (UTC); returns its name.
-- SECURITY DEFINER: runs as the owner, so the sink role gets partitions without owning tables.
CREATE OR REPLACE FUNCTION ensure_month_partition(parent regclass, month timestamptz)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp  text;
    rel  text;
    lo   timestamptz;
    part text;
BEGIN
    SELECT p.nsp, p.rel INTO nsp, rel FROM sensegate.partitioned_table(parent) AS p;
    lo := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    part := rel || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMM');
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                   nsp, part, nsp, rel, lo, lo + interval '1 month');
    RETURN part;
END;
$$;

-- Drop the monthly partitions of PARENT wholly older than its retention; returns their names.
-- The retention is the larger of the registered one and RETENTION_DAYS, and AS_OF never lies in
-- the future: a caller can only ever drop what the catalog's retention already expired.
CREATE OR REPLACE FUNCTION drop_expired_partitions(
    parent regclass, retention_days integer, as_of timestamptz
) RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp      text;
    rel      text;
    days     integer;
    child    text;
    starts   timestamptz;
    horizon  timestamptz;
BEGIN
    SELECT p.nsp, p.rel INTO nsp, rel FROM sensegate.partitioned_table(parent) AS p;
    EXECUTE format('SELECT retention_days FROM %I.dataset_retention WHERE storage_table = %L', nsp, rel)
       INTO days;
    days := greatest(coalesce(days, 1), retention_days);
    horizon := least(as_of, now()) - make_interval(days => days);
    FOR child IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent AND c.relname ~ '_p[0-9]{6}$'
    LOOP
        starts := make_timestamptz(substr(right(child, 6), 1, 4)::int,
                                   substr(right(child, 6), 5, 2)::int, 1, 0, 0, 0, 'UTC');
        IF starts + interval '1 month' <= horizon THEN
            EXECUTE format('DROP TABLE %I.%I', nsp, child);
            RETURN NEXT child;
        END IF;
    END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION ensure_month_partition(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION drop_expired_partitions(regclass, integer, timestamptz) FROM PUBLIC;
