-- pgaudit-kit: pgaudit_kit.redaction_key -- the HMAC-SHA256 key for redacted columns, stored as its
-- precomputed inner and outer pads. Readable only by the kit owner: application roles and reviewers
-- see digests, never the key, so they cannot test guesses of a redacted value.
CREATE TABLE pgaudit_kit.redaction_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    ipad      bytea NOT NULL CHECK (pg_catalog.length(ipad) = 64),
    opad      bytea NOT NULL CHECK (pg_catalog.length(opad) = 64)
);
ALTER TABLE pgaudit_kit.redaction_key OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.redaction_key IS 'pgaudit-kit: HMAC key pads for redacted columns (owner only)';
DO $key$
DECLARE
  -- 2 x 122 random bits from pg_strong_random(), hashed down to a 256-bit key
  k bytea := pg_catalog.sha256(pg_catalog.convert_to(
      pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, 'UTF8'));
  ipad bytea := pg_catalog.decode(pg_catalog.repeat('36', 64), 'hex');
  opad bytea := pg_catalog.decode(pg_catalog.repeat('5c', 64), 'hex');
BEGIN
  FOR i IN 0 .. pg_catalog.length(k) - 1 LOOP
    ipad := pg_catalog.set_byte(ipad, i, pg_catalog.get_byte(k, i) # 54);
    opad := pg_catalog.set_byte(opad, i, pg_catalog.get_byte(k, i) # 92);
  END LOOP;
  INSERT INTO pgaudit_kit.redaction_key (ipad, opad) VALUES (ipad, opad);
END
$key$;
