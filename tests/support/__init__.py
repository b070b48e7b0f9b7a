"""Code the tests share: the server under test (``cluster``), CLI and database helpers (``helpers``), the
enforcement tests' roles and schema (``enforcement``), the review tests' recorded history (``review``) and
the test vectors' location (``vectors``). The fixtures themselves are in ``tests/conftest.py``."""
