"""retire: remove archived history from the database, once the archive and the database both verify.

The client checks what only it can: the archive verifies with the signer's public key (every leaf, the tree,
the signed checkpoints), it is of this log, it starts no later than history already retired and ends at a
block of this log with the same root, and the database's own log verifies clean (history that shows tampering
is evidence, not something to retire). The database checks the rest, for every client: a signed checkpoint
of that tree is stored, a retention period is set and the history is older than it (pgaudit_kit.retire); it
records the retirement in the log before it deletes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import signing
from ..core.errors import UsageError
from ..log import sealing
from ..pg import db
from . import bundle, runner
from .verification import Findings


@dataclass
class RetireReport:
    archive: str  # the archive's digest
    tree_size: int = 0  # history through this tree size is retired now
    events_removed: int = 0
    findings: Findings | None = None  # what stopped it: the archive's or the database's findings

    def as_dict(self) -> dict[str, Any]:
        findings = self.findings or Findings()
        return {"archive": self.archive, "retired": not findings, "tree_size": self.tree_size,
                "events_removed": self.events_removed, "finding_counts": dict(findings.counts),
                "findings": [f.as_dict() for f in findings.items]}


def retire(connect: db.Connector, archive_dir: Path, public_key: Path, *, anchor_dir: Path | None = None,
           state_path: Path | None = None) -> RetireReport:
    """Retire the history *archive_dir* holds. Nothing is removed when the archive or the database has findings
    (the report holds them); UsageError when the archive is not of this log or nothing in it is left to retire."""
    key = signing.read_public_key(public_key)
    checked = bundle.check(archive_dir, key)
    report = RetireReport(archive=checked.digest, tree_size=checked.tree_size)
    if checked.findings:
        report.findings = checked.findings
        return report
    verified = runner.verify(connect, public_key=public_key, anchor_dir=anchor_dir, state_path=state_path)
    if verified.findings:
        report.findings = verified.findings
        return report
    with connect() as conn, db.translated_errors():
        db.require_writable(conn)
        with conn.transaction():
            if sealing.origin(conn) != checked.origin:
                raise UsageError(f"{archive_dir} is an archive of another log ({checked.origin})")
            row = conn.execute(
                "SELECT b.root, (SELECT COALESCE(max(r.tree_size), 0) FROM pgaudit_kit.retirement r) "
                "FROM pgaudit_kit.block b WHERE b.tree_size = %s AND b.tree_size > b.first_seq",
                (checked.tree_size,)).fetchone()
            if row is None or bytes(row[0]) != checked.root:
                raise UsageError(f"{archive_dir} ends at tree size {checked.tree_size}, where this log has no block "
                                 "with the same root: it is not this log's history")
            retired = int(row[1])
            if retired >= checked.tree_size:
                raise UsageError(f"history through tree size {retired} is retired already; {archive_dir} ends at "
                                 f"{checked.tree_size}: nothing to retire")
            if checked.start_size > retired:
                raise UsageError(f"{archive_dir} starts at tree size {checked.start_size}, but only history through "
                                 f"{retired} is retired: the events between would leave unarchived (archive from "
                                 "there first)")
            removed = conn.execute("SELECT pgaudit_kit.retire(%s, %s)", (checked.tree_size, checked.digest)).fetchone()
    report.events_removed = int(removed[0]) if removed else 0
    return report
