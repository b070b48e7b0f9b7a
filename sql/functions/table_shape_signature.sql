-- pgaudit-kit: pgaudit_kit.table_shape_signature(oid) -> text
-- Digest of everything a generated capture function and its triggers depend on: name, kind, columns
-- (name and type), primary key and, for partitioned tables, the partitions. When a DDL changes it, the
-- ddl_command_end trigger regenerates capture; when it is unchanged, nothing is redone (which is also
-- what stops the kit's own trigger DDL from recursing).
CREATE OR REPLACE FUNCTION pgaudit_kit.table_shape_signature(p_relid oid) RETURNS text
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT pg_catalog.md5(pg_catalog.concat_ws('|',
    (SELECT pg_catalog.format('%I.%I:%s', n.nspname, c.relname, c.relkind)
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_relid),
    (SELECT pg_catalog.string_agg(pg_catalog.format('%I:%s', a.attname, a.atttypid), ',' ORDER BY a.attnum)
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT pg_catalog.array_to_string(i.indkey::int2[], ',')
       FROM pg_catalog.pg_index i WHERE i.indrelid = p_relid AND i.indisprimary),
    (SELECT pg_catalog.string_agg(t.relid::text, ',' ORDER BY t.relid)
       FROM pg_catalog.pg_partition_tree(p_relid) t WHERE t.relid OPERATOR(pg_catalog.<>) p_relid),
    (SELECT pg_catalog.string_agg(i.inhrelid::text, ',' ORDER BY i.inhrelid)
       FROM pg_catalog.pg_inherits i WHERE i.inhparent = p_relid)))
$fn$;
ALTER FUNCTION pgaudit_kit.table_shape_signature(oid) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.table_shape_signature(oid) IS 'pgaudit-kit: digest of a table''s capture-relevant shape';
