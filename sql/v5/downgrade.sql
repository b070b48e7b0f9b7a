-- pgaudit-kit v5 downgrade, run after the v4 definitions of the functions v5 replaced are back and the
-- capture functions have been regenerated with them (see migrations/versions/0005_v5_write_path.py):
-- drop what only v5 has.
DROP FUNCTION pgaudit_kit.capture_settings(oid);
DROP FUNCTION pgaudit_kit.output_settings(oid);
