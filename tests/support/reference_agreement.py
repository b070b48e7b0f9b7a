"""The reference verifier (tests/reference, written from docs/ENCODING.md alone) run beside `verify` on the same
database: wherever the suite checks what `verify` reports, the two must name the same kinds of finding in the log
(the kinds the document defines; coverage of triggers and privileges, and the trusted state, are verify's own)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import psycopg

from tests.reference import verifier

# The log's own kinds (docs/ENCODING.md §8), which the reference verifier implements.
LOG_KINDS = frozenset({
    "event_modified", "event_missing", "event_inserted", "block_sequence", "block_first_seq", "block_size",
    "block_malformed", "block_root", "block_hash", "block_chain", "checkpoint_signature", "checkpoint_origin",
    "checkpoint_beyond_log", "checkpoint_root", "checkpoint_unchecked", "checkpoint_missing", "anchor_origin",
    "retirement_boundary", "retirement_unrecorded", "retirement_early",
})


def reference_report(dsn: str, public_key: Path | None, anchor_dir: Path | None) -> verifier.Report:
    """The reference verifier's findings on *dsn*. Run it just before `verify`: each `verify` records its review,
    and the commit of that record may seal, so afterwards the log is not what `verify` read."""
    key = verifier.PublicKey.parse(public_key.read_text()) if public_key is not None else None
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Seal what is pending (earlier runs' reviews), as the commit of verify's own review record may, but need
        # not (sealing at commit is rate-limited): then both read the same blocks. A tampered log may refuse
        # to seal; then there is nothing more to seal at verify's commit either.
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pgaudit_kit.seal()")
        return verifier.verify_database(conn, key, anchor_dir)


def assert_agrees(reference: verifier.Report, report: dict[str, Any]) -> None:
    """*report* is `verify --format json`'s, run right after *reference* with the same key and anchors."""
    kit_kinds = set(report["finding_counts"]) & LOG_KINDS
    # An incremental run (a trusted state) re-hashes only what is new since that state; the reference verifier
    # always reads the whole log, so there it must find at least what verify found.
    agrees = set(reference.kinds) == kit_kinds if report["mode"] == "full" else kit_kinds <= set(reference.kinds)
    assert agrees, (
        f"reference verifier: {sorted(reference.kinds)}; verify: {sorted(kit_kinds)}\n"
        + "\n".join(f"  {kind}: {message}" for kind, message in reference.findings[:20]))
