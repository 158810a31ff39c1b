-- custdb schema version 9: on PostgreSQL, audit entries join the hash
-- chain just after their unit of work commits, not inside its commit
-- (docs/SCALING.md, "The audit chain"). Before, each unit held the
-- chain's lock through its commit, so writing units committed one at a
-- time and the server could not flush their commits together.

-- A unit of work now inserts its entries without hashes, each seq drawn
-- from the column's identity; the chain step that follows the commit
-- gives them their hashes, once (audit_log_no_update allows exactly that).
-- custdb supplied every seq until now, so the identity starts after the
-- largest one.
SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), coalesce(max(seq), 0) + 1, false)
FROM audit_log;

CREATE OR REPLACE FUNCTION audit_log_hashed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF new.hash IS NOT NULL OR new.prev_hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_log entries are inserted unchained and chained after commit'
            USING ERRCODE = '23CD2';
    END IF;
    RETURN new;
END
$$;

-- The chain step runs as the application's role, which may set the two
-- hash columns and nothing else (the update trigger allows it once per
-- entry). Every role that may insert entries receives it here; a role
-- granted later receives it from Store::grant_runtime_privileges.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'audit_log'
          AND privilege_type = 'INSERT' AND grantee <> current_user
          AND grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT UPDATE (prev_hash, hash) ON audit_log TO %I', r.grantee);
    END LOOP;
END
$$;

-- The chain step (src/audit.rs, `Chainer`), in two calls. Units
-- of work insert entries only while holding the chain's advisory lock
-- ("custdb-a") shared; each call below holds it exclusively, so under it
-- every entry inserted so far is committed or gone, and the chained
-- entries stay a prefix of the trail in seq order. p_wait_ms = 0 only
-- tries the lock; otherwise it waits that long at most.

-- The last chained entry (0 and NULL when none): the trail read backwards
-- by seq through its primary key, which walks only the unchained tail
-- whatever the planner's statistics say about hash IS NOT NULL (a cursor
-- loop plans for its first rows).
CREATE OR REPLACE FUNCTION custdb_audit_head(OUT head_seq bigint, OUT head_hash text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    r record;
BEGIN
    head_seq := 0;
    FOR r IN SELECT seq, hash FROM audit_log ORDER BY seq DESC LOOP
        IF r.hash IS NOT NULL THEN
            head_seq := r.seq;
            head_hash := r.hash;
            RETURN;
        END IF;
    END LOOP;
END
$$;

-- First call: the last chained entry and the entries after it, read in a
-- snapshot taken after the lock. Nothing at all when the lock is not had
-- (a lock timeout is caught); one row whose seq is 0 and whose other
-- columns are NULL when it is had and the trail holds nothing to read.
CREATE OR REPLACE FUNCTION custdb_audit_unchained(p_wait_ms integer, p_limit integer)
RETURNS SETOF audit_log LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    marker audit_log;
BEGIN
    IF p_wait_ms > 0 THEN
        PERFORM set_config('lock_timeout', p_wait_ms::text, true);
        PERFORM pg_advisory_xact_lock(x'6375737464622d61'::bigint);
    ELSIF NOT pg_try_advisory_xact_lock(x'6375737464622d61'::bigint) THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT * FROM audit_log
        WHERE seq >= (SELECT head_seq FROM custdb_audit_head())
        ORDER BY seq LIMIT p_limit;
    IF NOT FOUND THEN
        marker.seq := 0;
        RETURN NEXT marker;
    END IF;
EXCEPTION WHEN query_canceled OR others THEN
    RETURN;
END
$$;

-- Second call: the hashes custdb computed from what the first returned, a
-- JSON array of {seq, prev_hash, hash}, set under the lock again if the
-- last chained entry is still p_head_seq (0: none); else another step
-- chained meanwhile and nothing is written. Returns the entries chained.
-- Its commit does not wait for the disk: a lost step is redone to the
-- same hashes by the next.
CREATE OR REPLACE FUNCTION custdb_audit_chain(p_links text, p_head_seq bigint, p_wait_ms integer)
RETURNS integer LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    head bigint;
    chained integer;
    expected integer := json_array_length(p_links::json);
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    IF p_wait_ms > 0 THEN
        PERFORM set_config('lock_timeout', p_wait_ms::text, true);
        PERFORM pg_advisory_xact_lock(x'6375737464622d61'::bigint);
    ELSIF NOT pg_try_advisory_xact_lock(x'6375737464622d61'::bigint) THEN
        RETURN 0;
    END IF;
    SELECT head_seq INTO head FROM custdb_audit_head();
    IF head <> p_head_seq THEN
        RETURN 0;
    END IF;
    UPDATE audit_log AS a SET prev_hash = v.prev_hash, hash = v.hash
    FROM json_to_recordset(p_links::json) AS v(seq bigint, prev_hash text, hash text)
    WHERE a.seq = v.seq AND a.hash IS NULL;
    GET DIAGNOSTICS chained = ROW_COUNT;
    IF chained <> expected THEN
        RAISE EXCEPTION 'the audit chain step chained % of % entries', chained, expected
            USING ERRCODE = '23CD2';
    END IF;
    RETURN chained;
END
$$;
