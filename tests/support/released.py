"""Databases at a released revision, installed by the release itself.

Two released packages, each installing revisions exactly as users got them (built by ``tests/released/build.sh``):
``pgaudit_kit-0.1.0-r0006.whl`` (commit 11a33dc) installs any of 0001-0006 with its own migrations and SQL;
``pgaudit_kit-0.1.0-r0010.whl`` (commit 1ca86f6, the stop that released 0010) installs 0010, its head. Each runs in a
subprocess whose import path starts with the unpacked wheel, so it never mixes with the package under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

RELEASED_DIR = Path(__file__).resolve().parents[1] / "released"
# revision -> the wheel that installs it, and how (the r0006 layout upgrades to a revision; later ones install head)
_SOURCES = {**{r: ("pgaudit_kit-0.1.0-r0006.whl", "upgrade_to") for r in ("0001", "0002", "0003", "0004", "0005", "0006")},
            "0010": ("pgaudit_kit-0.1.0-r0010.whl", "install_head")}
RELEASED_REVISIONS = tuple(_SOURCES)

_UPGRADE_TO = """
import sys
sys.path.insert(0, sys.argv[1])
from alembic import command
from pgaudit_kit import installer
assert installer.__file__.startswith(sys.argv[1]), installer.__file__
engine = installer._engine(sys.argv[2])
with engine.begin() as conn:
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({installer.INSTALL_LOCK_KEY})")
    cfg = installer.alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, sys.argv[3])
engine.dispose()
"""

_INSTALL_HEAD = """
import sys
sys.path.insert(0, sys.argv[1])
from pgaudit_kit.pg.db import connector
from pgaudit_kit.schema import installer
assert installer.__file__.startswith(sys.argv[1]), installer.__file__
result = installer.install(connector(sys.argv[2]))
assert result.after == sys.argv[3], (result.after, sys.argv[3])
"""


@cache
def _unpacked(wheel: str) -> str:
    target = tempfile.mkdtemp(prefix="pgaudit_kit_released_")
    with zipfile.ZipFile(RELEASED_DIR / wheel) as archive:
        archive.extractall(target)
    return target


def install_released(dsn: str, revision: str) -> None:
    """Install the kit at *revision* (one of RELEASED_REVISIONS) into the database *dsn*, with its released package."""
    if revision not in _SOURCES:
        raise ValueError(f"no released package installs revision {revision}")
    wheel, how = _SOURCES[revision]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = _UPGRADE_TO if how == "upgrade_to" else _INSTALL_HEAD
    subprocess.run([sys.executable, "-c", script, _unpacked(wheel), dsn, revision], check=True, env=env,
                   capture_output=True, text=True)
