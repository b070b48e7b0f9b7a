"""Databases at a released revision, installed by the release itself.

``tests/released/pgaudit_kit-0.1.0-r0006.whl`` is the package as it was released with revisions 0001-0006
(built from commit 11a33dc by ``tests/released/build.sh``): its own migrations and SQL install any of those
revisions exactly as users got them. It runs in a subprocess whose import path starts with the unpacked wheel,
so it never mixes with the package under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

RELEASED_WHEEL = Path(__file__).resolve().parents[1] / "released" / "pgaudit_kit-0.1.0-r0006.whl"
RELEASED_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")

_INSTALL = """
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


@cache
def _unpacked() -> str:
    target = tempfile.mkdtemp(prefix="pgaudit_kit_released_")
    with zipfile.ZipFile(RELEASED_WHEEL) as wheel:
        wheel.extractall(target)
    return target


def install_released(dsn: str, revision: str) -> None:
    """Install the kit at *revision* (0001-0006) into the database *dsn*, with the released package."""
    if revision not in RELEASED_REVISIONS:
        raise ValueError(f"no released package installs revision {revision}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", _INSTALL, _unpacked(), dsn, revision], check=True, env=env,
                   capture_output=True, text=True)
