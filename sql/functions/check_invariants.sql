-- pgaudit_kit.check_invariants() -- deferred constraint trigger on pending_check: at the commit of a
-- transaction that ran DDL, refuses it (rolling it all back) if the invariants do not hold. Skipped in
-- a maintenance window.
CREATE OR REPLACE FUNCTION pgaudit_kit.check_invariants() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_problems text[];
BEGIN
  DELETE FROM pgaudit_kit.pending_check WHERE xid OPERATOR(pg_catalog.=) NEW.xid;
  IF pgaudit_kit.in_maintenance() THEN
    RETURN NULL;
  END IF;
  SELECT pg_catalog.array_agg(p.problem) INTO v_problems FROM pgaudit_kit.invariant_problems() p;
  IF v_problems IS NOT NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: refused: %s%s', v_problems[1],
                                  CASE WHEN pg_catalog.cardinality(v_problems) > 1
                                       THEN pg_catalog.format(' (and %s more problems)', pg_catalog.cardinality(v_problems) - 1)
                                       ELSE '' END),
      DETAIL = pg_catalog.array_to_string(v_problems, '; '),
      HINT = 'Capture and the kit''s guards cannot be removed or weakened by DDL. To stop auditing a table: '
             'pgaudit-kit disable TABLE --reason TEXT; to repair an enrolment: pgaudit-kit enable TABLE; '
             'to change the kit: pgaudit-kit install.';
  END IF;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.check_invariants() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.check_invariants() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.check_invariants() IS
    'pgaudit-kit: at commit of a transaction that ran DDL, refuse it if capture or the guards were weakened';
