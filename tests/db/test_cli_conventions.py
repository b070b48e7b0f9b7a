"""CLI conventions every command follows: help with an example, --version, exit codes, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest

from pgaudit_kit import __version__
from pgaudit_kit.cli import main
from tests.support.cluster import Cluster
from tests.support.helpers import cli, with_params


def _repository_root() -> Path:
    """The folder holding pyproject.toml, wherever in tests/ this file lives."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise AssertionError(f"no pyproject.toml above {__file__}")


ROOT = _repository_root()
README = ROOT / "README.md"
CLI_REFERENCE = ROOT / "docs" / "CLI.md"
README_MAX_LINES = 200


def _outside_code_blocks(text: str) -> list[str]:
    """The lines of a markdown text that are not inside fenced code blocks (fences dropped too)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _reference_section(heading: str) -> str:
    """The text under *heading* in docs/CLI.md, up to the next heading of the same or a higher level."""
    lines = _outside_code_blocks(CLI_REFERENCE.read_text(encoding="utf-8"))
    assert heading in lines, f"docs/CLI.md has no section {heading!r}"
    level = len(heading) - len(heading.lstrip("#"))
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if re.match(rf"#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def _long_option_names(command: click.Command) -> list[str]:
    """Every --name of every option of *command* (click adds --help itself; it is not in params)."""
    return [name for param in command.params if isinstance(param, click.Option)
            for name in [*param.opts, *param.secondary_opts] if name.startswith("--")]


def _mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_with_an_example_and_a_reference_entry(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"{command} --help shows no example"
    assert f"pgaudit-kit {command}" in result.stdout or f" {command} " in result.stdout
    assert f"### `pgaudit-kit {command}`" in CLI_REFERENCE.read_text(encoding="utf-8"), \
        f"docs/CLI.md has no section for `pgaudit-kit {command}`"


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_option_is_in_its_commands_reference_section(command: str) -> None:
    section = _reference_section(f"### `pgaudit-kit {command}`")
    missing = [name for name in _long_option_names(main.commands[command]) if not _mentions(section, name)]
    assert not missing, f"docs/CLI.md, section `pgaudit-kit {command}`, does not mention {missing}"


def test_every_global_option_is_in_the_reference() -> None:
    section = _reference_section("## Global options and exit codes")
    missing = [name for name in _long_option_names(main) if not _mentions(section, name)]
    assert not missing, f"docs/CLI.md, section 'Global options and exit codes', does not mention {missing}"


def test_readme_is_short() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines, more than {README_MAX_LINES}: move detail to docs/"


def _heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file (lower case, punctuation dropped, spaces
    to hyphens, -1, -2 ... for repeats)."""
    anchors: set[str] = set()
    for line in _outside_code_blocks(path.read_text(encoding="utf-8")):
        heading = re.match(r"#{1,6} +(.*?)#*\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchor, repeat = slug, 0
            while anchor in anchors:
                repeat += 1
                anchor = f"{slug}-{repeat}"
            anchors.add(anchor)
    return anchors


MARKDOWN_FILES = [README, *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", MARKDOWN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_existing_files_and_headings(document: Path) -> None:
    broken = []
    for line in _outside_code_blocks(document.read_text(encoding="utf-8")):
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path_part, _, fragment = target.partition("#")
            linked = (document.parent / path_part).resolve() if path_part else document
            if not linked.exists():
                broken.append(f"{target} (no such file)")
            elif fragment and linked.suffix == ".md" and fragment not in _heading_anchors(linked):
                broken.append(f"{target} (no such heading)")
    assert not broken, f"{document.relative_to(ROOT)} links to: {broken}"


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


def test_an_error_raised_in_sql_is_one_line_with_one_prefix(kit_db: str) -> None:
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE not_enrolled (id int PRIMARY KEY)")
    result = cli("disable", "public.not_enrolled", "--reason", "test", dsn=kit_db)
    assert result.exit_code != 0 and result.exit_code != 4
    assert result.stderr == "pgaudit-kit: error: public.not_enrolled is not enrolled\n", result.stderr


def test_missing_folders_are_usage_errors_before_any_work(kit_db: str, tmp_path: Path) -> None:
    keygen = cli("keygen", "--out", str(tmp_path / "nosuch" / "shop"))
    assert keygen.exit_code == 2 and "is not a folder; create it first" in keygen.stderr
    assert not (tmp_path / "nosuch").exists()
    verify = cli("verify", "--state", str(tmp_path / "nosuch" / "shop.state"), dsn=kit_db)
    assert verify.exit_code == 2 and "--state:" in verify.stderr and "is not a folder" in verify.stderr
    with psycopg.connect(kit_db) as conn:  # refused before it ran: no verify was recorded
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'R' "
                            "AND row_data->>'command' LIKE 'verify%'").fetchone() == (0,)


def test_a_role_without_a_kit_role_is_told_to_get_one(cluster: Cluster, kit_db: str) -> None:
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS no_kit_role")
        conn.execute("CREATE ROLE no_kit_role LOGIN PASSWORD 'pw'")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    try:
        for args in (["status"], ["seal"], ["enable", "public.t"], ["disable", "public.t", "--reason", "x"]):
            result = cli(*args, dsn=with_params(kit_db, user="no_kit_role", password="pw"))
            _assert_environment_error(result, "pgaudit-kit grant admin ROLE")
    finally:
        with cluster.admin() as conn:
            conn.execute("DROP ROLE IF EXISTS no_kit_role")
