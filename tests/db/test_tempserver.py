"""The throwaway-server harness itself."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import psycopg
import pytest

from pgaudit_kit.core.errors import ServerStartError
from pgaudit_kit.pg.tempserver import TempServer, find_bindir


def test_server_is_private_and_removed_on_stop() -> None:
    server = TempServer().start()
    root = server.root
    assert root is not None
    try:
        assert stat.S_IMODE(os.stat(server.socketdir).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(server.datadir).st_mode) == 0o700
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT current_setting('listen_addresses')").fetchone() == ("127.0.0.1",)
            assert conn.execute("SELECT current_setting('unix_socket_directories')").fetchone() == (str(server.socketdir),)
        if os.geteuid() == 0:
            # PostgreSQL refuses root, so the harness runs it as an unprivileged account.
            assert os.stat(server.datadir).st_uid != 0
    finally:
        server.stop()
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn(), connect_timeout=2)


def test_halted_server_keeps_its_data_for_a_single_user_backend() -> None:
    with TempServer() as server:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        server.halt()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(server.dsn(), connect_timeout=2)
        single = subprocess.run([server.tool("postgres"), "--single", "-D", str(server.datadir), "postgres"],
                                input="SELECT n * 2 AS doubled FROM kept;\n", user=server.run_as,
                                capture_output=True, text=True, cwd="/", check=False)
        assert single.returncode == 0, single.stderr
        assert 'doubled = "84"' in single.stdout
    assert server.root is None


def test_server_stops_when_the_block_raises() -> None:
    holder: list[TempServer] = []
    with pytest.raises(RuntimeError), TempServer() as server:
        holder.append(server)
        raise RuntimeError("test failure inside the block")
    assert holder[0].root is None


def test_wrong_password_is_refused() -> None:
    with TempServer() as server, pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(server.dsn(password="not-it"), connect_timeout=5)


def test_bindir_override_must_hold_initdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PGAUDIT_KIT_PG_BINDIR", str(tmp_path))
    with pytest.raises(ServerStartError, match="has no initdb"):
        find_bindir()


def test_server_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("initdb", "postgres", "pg_ctl"):
        script = fake / tool
        script.write_text("#!/bin/sh\necho 'simulated failure' >&2\nexit 1\n")
        script.chmod(0o755)
    with pytest.raises(ServerStartError):
        TempServer(bindir=fake).start()
