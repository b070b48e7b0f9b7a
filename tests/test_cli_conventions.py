"""CLI conventions every command follows: help with an example, --version, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import Cluster
from helpers import cli, with_params

from pgaudit_kit import __version__
from pgaudit_kit.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_with_an_example_and_a_readme_entry(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"{command} --help shows no example"
    assert f"pgaudit-kit {command}" in result.stdout or f" {command} " in result.stdout
    assert f"### `pgaudit-kit {command}`" in README.read_text(), f"README.md has no section for `pgaudit-kit {command}`"


def test_version() -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_module_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "pgaudit_kit", "--version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert "pgaudit-kit" in out.stdout


def test_unknown_option_is_usage_error() -> None:
    result = cli("status", "--frobnicate")
    assert result.exit_code == 2


def test_bad_format_value_is_usage_error() -> None:
    result = cli("status", "--format", "yaml")
    assert result.exit_code == 2


def _assert_environment_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_malformed_dsn_exits_3(empty_db: str) -> None:
    _assert_environment_error(cli("status", dsn="host=127.0.0.1 nonsense_option=1"), "invalid connection string")


def test_unreachable_server_exits_3() -> None:
    _assert_environment_error(cli("install", dsn="host=127.0.0.1 port=1 connect_timeout=2"), "cannot connect")


def test_wrong_password_exits_3_and_names_it(cluster: Cluster, empty_db: str) -> None:
    result = cli("install", dsn=with_params(empty_db, password="wrong-password"))
    _assert_environment_error(result, "password authentication failed")
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regnamespace('pgaudit_kit')").fetchone() == (None,)


def test_role_without_privilege_exits_3_and_changes_nothing(cluster: Cluster, empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS plain_user")
        conn.execute("CREATE ROLE plain_user LOGIN PASSWORD 'pw'")
    try:
        result = cli("install", dsn=with_params(empty_db, user="plain_user", password="pw"))
        _assert_environment_error(result, "superuser")
        with psycopg.connect(empty_db) as conn:
            assert conn.execute("SELECT to_regnamespace('pgaudit_kit')").fetchone() == (None,)
    finally:
        with cluster.admin() as conn:
            conn.execute("DROP ROLE IF EXISTS plain_user")


def test_not_installed_exits_3(empty_db: str) -> None:
    _assert_environment_error(cli("enable", "public.t", dsn=empty_db), "not installed")


def test_standby_exits_3_and_changes_nothing(cluster: Cluster) -> None:
    if cluster.server is None:
        pytest.fail("this test needs the suite's own server to build a standby from")
    standby = cluster.server.make_standby()
    try:
        for args in (["install"], ["enable", "public.x"], ["uninstall", "--discard-history"]):
            result = cli(*args, dsn=standby.dsn("postgres"))
            _assert_environment_error(result, "read-only")
    finally:
        standby.stop()


def test_debug_shows_traceback_for_expected_errors() -> None:
    result = cli("--debug", "install", dsn="host=127.0.0.1 port=1 connect_timeout=2")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
