"""Run by .ci/run with the *wheel* virtualenv's Python, from outside the source tree.

Starts a throwaway server with the test virtualenv's harness (argv[1] is that env's Python), then runs
the wheel's own `pgaudit-kit install`, `status` and `enable` against it and checks the results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pgaudit_kit

test_python = sys.argv[1]
assert "site-packages" in pgaudit_kit.__file__, f"not the installed wheel: {pgaudit_kit.__file__}"
cli = str(Path(sys.executable).parent / "pgaudit-kit")

server = subprocess.Popen(
    [test_python, "-c",
     "import sys, signal; from pgaudit_kit.pg.tempserver import TempServer\n"
     "s = TempServer().start(); print(s.dsn(), flush=True)\n"
     "signal.signal(signal.SIGTERM, lambda *a: (s.stop(), sys.exit(0)))\n"
     "sys.stdin.read(); s.stop()"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
)
try:
    assert server.stdout is not None
    dsn = server.stdout.readline().strip()
    env = {**os.environ, "PGAUDIT_KIT_DSN": dsn}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], env=env, capture_output=True, text=True, check=False)

    assert "CREATE TABLE pgaudit_kit.event" in run("install", "--sql").stdout
    installed = run("install")
    assert installed.returncode == 0, installed.stderr
    print(installed.stdout.strip())
    subprocess.run([sys.executable, "-c", f"import psycopg; psycopg.connect({dsn!r}, autocommit=True)"
                    ".execute('CREATE TABLE t (id int PRIMARY KEY)')"], check=True)
    assert run("enable", "t").returncode == 0
    status = run("status", "--format", "json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert [t["table_name"] for t in report["enrolled_tables"]] == ["t"]
    verified = run("verify", "--full")  # reads the shipped-function records packaged with the wheel
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"wheel OK: revision {report['installed_revision']} on PostgreSQL {report['server_version']}")
finally:
    if server.stdin:
        server.stdin.close()
    server.wait(timeout=60)
