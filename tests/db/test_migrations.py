"""The schema's two routes and its records: a fresh install from the current sql/ sources and an upgrade from
every released revision (installed by the released package itself, with enrolled tables and sealed history)
build the same catalog; released revisions are frozen; what each revision shipped is recorded, and the newest
record is current."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgaudit_kit.pg.catalog import schema_snapshot, snapshot_differences
from pgaudit_kit.pg.db import connector
from pgaudit_kit.schema import installer, shipped
from pgaudit_kit.schema.resources import migrations_dir, shipped_dir, sources, sql_dir
from pgaudit_kit.schema.revisions import all_revisions, head_revision
from tests.support.helpers import cli, enable
from tests.support.released import RELEASED_REVISIONS, install_released

# Released files never change (a new revision is a new file). sha256 of each, as released.
FROZEN = {
    "migrations/versions/0001_v1_initial.py": "20a104998fe02102f43b93afc557d4fa1b3eb0bc90d2637d4ad59d5ce1f343ab",
    "migrations/versions/0002_v2_sealed_log.py": "085c612c287583e808ad8e44cff97795b8cdf817f13cdf6040515a79340285a0",
    "migrations/versions/0003_v3_enforcement.py": "ece844de0d5112a3b18a7479a19a1f06ac6dedf835d5c40478908ee75c546380",
    "migrations/versions/0004_v4_review.py": "b18eecd92bb6a957d0d68eb87957fcc02ed1157359b6915da629c23c3971f254",
    "migrations/versions/0005_v5_write_path.py": "8982023cd76da51fee220e6849ba0d2e7a3e01cc7ad95d7f939fc22a7770a74d",
    "migrations/versions/0006_v6_commit_path.py": "4df28dacc2a57a63626ded390c57269505e07cd36147982ad5d3cd9cc60b8297",
    "pgaudit_kit/shipped_functions/0001.json": "0f36f8fb56a9586fb18083f15e34a603a308ce1f4481c54c414bc5d65222827b",
    "pgaudit_kit/shipped_functions/0002.json": "9c18501639e67f2be7311cdba5627d87f7dd34df3f3b191c248dded9813bcb93",
    "pgaudit_kit/shipped_functions/0003.json": "16dd055bbebaa53b6553ac29d6ee2e62f701f83ea3922d422c98ae0de042c90e",
    "pgaudit_kit/shipped_functions/0004.json": "f06af80aec2ee0854ab292075674d7c8be2d5baf5f8b5f1901ac3d5f7067e2f7",
    "pgaudit_kit/shipped_functions/0005.json": "949971ba514068b968272242d90257648c35c64e7b6817855720f5b000ae6e54",
    "migrations/versions/0007_v7_attached_ddl.py": "cb3f071c0c00e728e0be1eb9b21f6d1781331021058b2eea4026281fc19f90cf",
    "pgaudit_kit/shipped_functions/0007.json": "6b9b175a11edc854b840e6aa6e5c84e997545e46dbd104eaa84ab242ce738c42",
    "pgaudit_kit/shipped_functions/0006.json": "ff3cfd37a28c041975557a788e38d92892b3abc8d7d41cab981be9ff863a89cd",
    "migrations/versions/0008_v8_write_path.py": "960f9f375431b38ead88725c062f85a67195d52e69e263ab872a8ffcc8d175d0",
    "pgaudit_kit/shipped_functions/0008.json": "839493a8c942cc352902e3f5e956cae20eed0487212bbe6192972e06189cb206",
    "migrations/versions/0009_v9_first_statement.py": "5c3447d34cff7bc80a8602b6a435b9353466aae6c03f82ccfe2117faacb89f7c",
    "pgaudit_kit/shipped_functions/0009.json": "8e00118f4b58617ec421a6185a9ce702551d41729a0ff244be9affb45633f4fb",
    "migrations/versions/0010_v10_statement_chunks.py": "71728db88b421358a44c8d8b13480f0f122bb394b69ad39be03e91fd2b857cbb",
    "pgaudit_kit/shipped_functions/0010.json": "455d45c18d856f7a4ec1af888bfa0ce8e2e15114d5203f50a684d5355eb1d8fc",
    "migrations/versions/0011_v11_chunk_rows.py": "23d1e7785da1b48d47f9ad5bb6c09b8ef8024096dfef1f1b2f381f3b595d9bd0",
    "pgaudit_kit/shipped_functions/0011.json": "1a978525cf8e958d81df381cc1bbf12f498207230bac72cd4e9aa3c6ea9a190d",
    "migrations/versions/0012_v12_retirement.py": "8373411a0f75112019c4cf997a4b4a183c3df32e5f4d364547027fea4bb68eed",
    "pgaudit_kit/shipped_functions/0012.json": "cc29a89d54c63d301a59a7971e4f380587091586480ff1eb8fe896ac039075b3",
    "migrations/versions/0013_v13_partitioned_events.py": "0d668e340136a60117ad21d51bfae4b873ad9e9586d5864355e63b3a13f76a4f",
    "pgaudit_kit/shipped_functions/0013.json": "d8014fbb7c4213f00511bd982b3f7355f4767b7ff0ae535efa0da56c307eb037",
    "migrations/versions/0014_v14_lean_capture.py": "2fef2c13b8426b0cde16410a1259bdcaf6c39d3996fa68d43af4e1ca9eba5cd0",
    "pgaudit_kit/shipped_functions/0014.json": "8c8df78d390fbffb57160e7f21488c9bdb16e300f0831471e3a4c64dda077bd1",
}
ROOT = Path(__file__).resolve().parents[2]
FROZEN_REVISIONS = sorted({Path(path).name[:4] for path in FROZEN})
CAPTURE = re.compile(r"pgaudit_kit\.capture_\d+\(\)")


def snapshot_without_capture(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The kit's catalog, less the generated capture functions (they belong to the enrolled tables)."""
    snapshot = schema_snapshot(conn)
    snapshot["functions"] = [f for f in snapshot["functions"] if not CAPTURE.fullmatch(f[0])]
    return snapshot


def test_order_lists_every_sql_source_once() -> None:
    listed = [s.path for s in sources()]
    assert len(listed) == len(set(listed))
    assert set(listed) == {str(p.relative_to(sql_dir())) for p in sql_dir().rglob("*.sql")}


def test_each_function_source_defines_the_function_it_is_named_after(kit_db: str) -> None:
    """One function per file, named after it: the upgrade re-applies a function's file when its record changes."""
    named = {shipped.function_of_source(s.path) for s in sources()} - {None}
    with psycopg.connect(kit_db) as conn:
        assert named == set(shipped.functions_in(conn))
    for source in sources():
        name = shipped.function_of_source(source.path)
        if name is not None:
            text = (sql_dir() / source.path).read_text()
            assert len(re.findall(r"^CREATE OR REPLACE FUNCTION (\S+)\(", text, re.M)) == 1, source.path
            assert f"CREATE OR REPLACE FUNCTION {name}(" in text, source.path


def test_released_revision_files_are_frozen() -> None:
    changed = [path for path, digest in FROZEN.items()
               if hashlib.sha256((ROOT / path).read_bytes()).hexdigest() != digest]
    assert changed == [], f"released files changed (add a new revision instead): {changed}"
    # no revision goes in before a released one, and every installable released one is frozen
    assert all_revisions()[:len(FROZEN_REVISIONS)] == FROZEN_REVISIONS
    assert set(RELEASED_REVISIONS) <= set(FROZEN_REVISIONS)


def test_revisions_are_forward_only() -> None:
    for script in sorted((migrations_dir() / "versions").glob("0*.py")):
        module = _load(script)
        assert not hasattr(module, "downgrade"), f"{script.name} has a downgrade: upgrades are forward-only"


def _load(script: Path) -> Any:
    spec = importlib.util.spec_from_file_location(script.stem, script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_newest_shipped_record_is_current(kit_db: str) -> None:
    """Regenerate with `python .ci/record_shipped.py` after changing a function."""
    with psycopg.connect(kit_db) as conn:
        current = shipped.render(shipped.record(conn, head_revision()))
    assert shipped.newest_revision() == head_revision()
    assert (shipped_dir() / f"{head_revision()}.json").read_text() == current, \
        "pgaudit_kit/shipped_functions is stale: run python .ci/record_shipped.py"


def test_offline_install_builds_the_same_schema(kit_db: str, empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(installer.install_sql(None))  # what `psql -f` of `install --sql` does
    with psycopg.connect(kit_db) as installed, psycopg.connect(empty_db) as offline:
        assert snapshot_differences(schema_snapshot(installed), schema_snapshot(offline)) == []


@pytest.mark.parametrize("released", RELEASED_REVISIONS)
def test_upgrade_from_a_released_revision_builds_the_schema_of_the_sources(
        kit_db: str, empty_db: str, released: str) -> None:
    install_released(empty_db, released)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert shipped.render(shipped.record(conn, released)) == (shipped_dir() / f"{released}.json").read_text()
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
        enable(conn, "t")
        conn.execute("INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 20) g")
        conn.execute("UPDATE t SET note = 'changed' WHERE id <= 5")
        if released >= "0002":
            conn.execute("SELECT pgaudit_kit.seal()")
        if released >= "0010":  # chunks recorded, not sealed yet: the upgraded kit expands them
            conn.execute("INSERT INTO t SELECT g, 'pending' FROM generate_series(1000, 1099) g")
            assert conn.execute("SELECT sum(n_events) FROM pgaudit_kit.event_chunk").fetchone() == (100,)
    result = installer.install(connector(empty_db))
    assert (result.before, result.after, result.overwritten) == (released, head_revision(), [])
    with psycopg.connect(kit_db) as fresh, psycopg.connect(empty_db, autocommit=True) as upgraded:
        assert snapshot_differences(snapshot_without_capture(fresh), snapshot_without_capture(upgraded)) == []
        assert upgraded.execute("SELECT * FROM pgaudit_kit.invariant_problems()").fetchall() == []
        upgraded.execute("DELETE FROM t WHERE id = 20")
        assert upgraded.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'D'").fetchone() == (1,)
        upgraded.execute("INSERT INTO t SELECT g, 'bulk' FROM generate_series(100, 199) g")  # chunks (0010)
        while upgraded.execute("SELECT pgaudit_kit.seal()").fetchone() != (0,):
            pass
        assert upgraded.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'I' AND row_data->>'note' = 'bulk'"
                                ).fetchone() == (100,)
        if released >= "0010":
            assert upgraded.execute("SELECT count(*), min(id) < max(id) FROM pgaudit_kit.event "
                                    "WHERE op = 'I' AND row_data->>'note' = 'pending'").fetchone() == (100, True)
            assert upgraded.execute("SELECT count(*) FROM pgaudit_kit.event_chunk").fetchone() == (0,)
    report = cli("verify", "--full", "--format", "json", dsn=empty_db)
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["findings"] == []
