-- pgaudit-kit: pgaudit_kit.output_settings -- the settings a type's text output depends on
CREATE OR REPLACE FUNCTION pgaudit_kit.output_settings(p_type oid) RETURNS text[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  WITH RECURSIVE unwrapped(typid) AS (
      SELECT p_type
    UNION
      SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype
                  WHEN t.typtype = 'r' THEN (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)
                  WHEN t.typtype = 'm' THEN (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)
                  ELSE t.typelem END
        FROM unwrapped u JOIN pg_catalog.pg_type t ON t.oid = u.typid
       WHERE t.typtype IN ('d', 'r', 'm')
          OR (t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc)),
  leaf AS (
    SELECT u.typid, t.typtype FROM unwrapped u JOIN pg_catalog.pg_type t ON t.oid = u.typid
     WHERE NOT (t.typtype IN ('d', 'r', 'm')
                OR (t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc)))
  SELECT COALESCE(pg_catalog.array_agg(DISTINCT s.setting), '{}')
    FROM leaf l
   CROSS JOIN LATERAL pg_catalog.unnest(CASE
      WHEN l.typtype = 'e' OR l.typid = ANY ('{bool,int2,int4,int8,oid,numeric,text,varchar,bpchar,name,char,uuid,
                                              json,jsonb,xml,inet,cidr,macaddr,macaddr8,bit,varbit,tsvector,tsquery,
                                              xid,xid8,cid,tid,pg_lsn}'::pg_catalog.regtype[]::oid[])
        THEN '{}'::text[]
      WHEN l.typid = 'pg_catalog.timestamptz'::pg_catalog.regtype THEN '{TimeZone,DateStyle}'
      WHEN l.typid = ANY ('{date,time,timetz,timestamp}'::pg_catalog.regtype[]::oid[]) THEN '{DateStyle}'
      WHEN l.typid = 'pg_catalog.interval'::pg_catalog.regtype THEN '{IntervalStyle}'
      WHEN l.typid = ANY ('{float4,float8,point,lseg,line,box,path,polygon,circle}'::pg_catalog.regtype[]::oid[])
        THEN '{extra_float_digits}'
      WHEN l.typid = 'pg_catalog.bytea'::pg_catalog.regtype THEN '{bytea_output}'
      WHEN l.typid = 'pg_catalog.money'::pg_catalog.regtype THEN '{lc_monetary}'
      ELSE '{TimeZone,DateStyle,IntervalStyle,extra_float_digits,bytea_output,lc_monetary}' END) AS s(setting)
$fn$;
ALTER FUNCTION pgaudit_kit.output_settings(oid) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.output_settings(oid) IS
    'pgaudit-kit: the settings a type''s text output depends on';
