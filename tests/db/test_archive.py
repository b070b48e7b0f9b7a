"""archive and verify-archive: sealed, checkpointed history written out as a bundle that verifies with no
database, and every edit of a bundle caught."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgaudit_kit.core import encoding, signing
from tests.support.helpers import cli, enable

Conn = psycopg.Connection[Any]


@pytest.fixture
def history(kit_conn: Conn, kit_db: str, tmp_path: Path) -> dict[str, Any]:
    """A log with two checkpoints: the first after 40 writes, the second after 20 more."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text, at timestamptz DEFAULT now())")
    enable(kit_conn, "t")
    assert cli("keygen", "--name", "shop-audit", "--out", str(tmp_path / "shop")).exit_code == 0
    key = tmp_path / "shop.key"
    for i in range(30):
        kit_conn.execute("INSERT INTO t (id, v) VALUES (%s, %s)", (i, f"row {i}"))
    kit_conn.execute("UPDATE t SET v = v || ' again' WHERE id < 8")
    kit_conn.execute("DELETE FROM t WHERE id >= 28")
    first = json.loads(cli("checkpoint", "--key", str(key), "--format", "json", dsn=kit_db).stdout)
    for i in range(30, 50):
        kit_conn.execute("INSERT INTO t (id, v) VALUES (%s, 'later')", (i,))
    second = json.loads(cli("checkpoint", "--key", str(key), "--format", "json", dsn=kit_db).stdout)
    assert 0 < first["tree_size"] < second["tree_size"]
    return {"public": tmp_path / "shop.pub", "first": first, "second": second, "dsn": kit_db, "tmp": tmp_path}


def _archive(history: dict[str, Any], through: str, name: str = "archive") -> tuple[Any, Path]:
    out = history["tmp"] / name
    result = cli("archive", "--through", through, "--out", str(out), "--public-key", str(history["public"]),
                 "--format", "json", dsn=history["dsn"])
    return result, out


def _verify(folder: Path, history: dict[str, Any]) -> dict[str, Any]:
    result = cli("verify-archive", str(folder), "--public-key", str(history["public"]), "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert (result.exit_code == 0) == report["clean"]
    return report


def test_archive_writes_a_bundle_that_verifies_with_no_database(history: dict[str, Any], kit_conn: Conn) -> None:
    size = history["first"]["tree_size"]
    result, out = _archive(history, str(size + 5))  # within the second checkpoint: ends at the first
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clean"] and report["tree_size"] == size and report["events_checked"] == size
    assert report["origin"] == history["first"]["origin"]
    manifest = (out / "manifest.json").read_bytes()
    assert report["digest"] == hashlib.sha256(manifest).hexdigest()
    files = json.loads(manifest)["files"]
    for entry in files.values():  # content-addressed
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"] in entry["file"]
    # the events are the sealed events up to the checkpoint, with their fields as the leaf encoding reads them
    lines = [json.loads(line) for line in (out / files["events"]["file"]).read_text().splitlines()]
    sealed = [int(i) for (ids,) in kit_conn.execute(
        "SELECT event_ids FROM pgaudit_kit.block WHERE tree_size <= %s ORDER BY block_no", (size,)) for i in ids]
    assert sorted(int(line[1]) for line in lines) == sorted(sealed)
    assert len(lines[0]) == 1 + len(encoding.EVENT_FIELDS)
    updates = [line for line in lines if line[4] == "U"]
    assert len(updates) == 8 and all("again" not in json.loads(line[11])["v"] for line in updates)
    checkpoints = json.loads((out / files["checkpoints"]["file"]).read_text())
    assert checkpoints["checkpoints"][-1] == history["first"]["note"]
    assert checkpoints["newest"] == history["second"]["note"] and checkpoints["consistency"]
    # no database needed: the same report from the folder alone
    offline = _verify(out, history)
    assert offline == report
    # the read was recorded in the log like any review
    reviews = kit_conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' "
                               "AND row_data->>'command' = 'archive'").fetchall()
    assert len(reviews) == 1 and reviews[0][0]["filter"]["out"] == str(out)


def test_archive_through_a_date_ends_at_the_newest_checkpoint_sealed_by_then(history: dict[str, Any]) -> None:
    result, _ = _archive(history, "2999-12-31")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clean"] and report["tree_size"] == history["second"]["tree_size"]
    refused, out = _archive(history, "2000-01-01", name="too-early")
    assert refused.exit_code == 2 and "no signed checkpoint ends within --through" in refused.stderr
    assert not out.exists()
    again, _ = _archive(history, "2999-12-31")
    assert again.exit_code == 2 and "exists" in again.stderr
    bad = cli("archive", "--through", "last tuesday", "--out", str(history["tmp"] / "x"), "--public-key",
              str(history["public"]), dsn=history["dsn"])
    assert bad.exit_code == 2 and "not a seq, a date or a time" in bad.stderr
    not_one = cli("verify-archive", str(history["tmp"]), "--public-key", str(history["public"]))
    assert not_one.exit_code == 2 and "is not an archive" in not_one.stderr


def _copy(out: Path, name: str) -> Path:
    copy = out.parent / name
    shutil.copytree(out, copy)
    for path in [copy, *copy.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return copy


def _rewrite(folder: Path, kind: str, edit: Callable[[bytes], bytes], fix_digests: bool = True) -> None:
    """Edit one part of a bundle; with *fix_digests*, as an attacker who knows the format would, also rename
    it after its new content and update the manifest, so that only the content checks can catch it."""
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["files"][kind]
    data = edit((folder / entry["file"]).read_bytes())
    if not fix_digests:
        (folder / entry["file"]).write_bytes(data)
        return
    (folder / entry["file"]).unlink()
    digest = hashlib.sha256(data).hexdigest()
    entry.update(file=f"{kind}-{digest}.{entry['file'].rsplit('.', 1)[1]}", sha256=digest, bytes=len(data))
    (folder / entry["file"]).write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _edit_lines(edit: Callable[[list[Any]], list[Any]]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        rows = edit([json.loads(line) for line in data.splitlines()])
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    return apply


def _set_value(rows: list[Any]) -> list[Any]:
    target = next(row for row in rows if row[4] == "I")
    image = json.loads(target[10])
    image["v"] = "rewritten"
    target[10] = json.dumps(image)
    return rows


def _drop_update(rows: list[Any]) -> list[Any]:
    first_update = next(i for i, row in enumerate(rows) if row[4] == "U")
    return rows[:first_update] + rows[first_update + 1:]


def _add_event(rows: list[Any]) -> list[Any]:
    forged = list(rows[5])
    forged[1] = str(int(forged[1]) + 1)  # an id no block sealed, inside the archived range
    return [*rows[:6], forged, *rows[6:]]


def _bump_root(rows: list[Any]) -> list[Any]:
    rows[0]["root"] = "A" * 43 + "="
    return rows


def _forge_checkpoint(data: bytes) -> bytes:
    document = json.loads(data)
    note = document["checkpoints"][-1]
    origin, size, root = note.split("\n")[:3]
    document["checkpoints"][-1] = note.replace(f"\n{size}\n", f"\n{int(size) + 1}\n", 1)
    return json.dumps(document).encode()


@pytest.mark.parametrize(("case", "kind", "edit", "fix", "expected"), [
    ("an event's value, digests left", "events", _edit_lines(_set_value), False, "archive_file"),
    ("an event's value", "events", _edit_lines(_set_value), True, "event_modified"),
    ("an event removed", "events", _edit_lines(_drop_update), True, "event_missing"),
    ("an event added", "events", _edit_lines(_add_event), True, "event_inserted"),
    ("a block's root hash", "blocks", _edit_lines(_bump_root), True, "block_hash"),
    ("a signed checkpoint", "checkpoints", _forge_checkpoint, True, "checkpoint_signature"),
])
def test_every_edit_of_a_bundle_is_a_finding(history: dict[str, Any], case: str, kind: str,
                                             edit: Callable[[bytes], bytes], fix: bool, expected: str) -> None:
    result, out = _archive(history, str(history["first"]["tree_size"] - 1))
    assert result.exit_code == 0, result.stderr
    tampered = _copy(out, "tampered")
    _rewrite(tampered, kind, edit, fix_digests=fix)
    report = _verify(tampered, history)
    assert not report["clean"], case
    assert expected in report["finding_counts"], (case, report["finding_counts"])
    assert _verify(out, history)["clean"]  # the original still verifies


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("tree_size", 3, "archive_size"),
    ("origin", "pgaudit-kit/1/elsewhere/00000000-0000-0000-0000-000000000000", "checkpoint_origin"),
])
def test_an_edited_manifest_is_a_finding(history: dict[str, Any], field: str, value: Any, expected: str) -> None:
    _, out = _archive(history, str(history["first"]["tree_size"] - 1))
    tampered = _copy(out, "tampered")
    manifest = json.loads((tampered / "manifest.json").read_text())
    manifest[field] = value
    (tampered / "manifest.json").write_text(json.dumps(manifest))
    report = _verify(tampered, history)
    assert expected in report["finding_counts"], report["finding_counts"]
    assert report["digest"] != _verify(out, history)["digest"]


def test_a_bundle_checked_with_another_key_is_a_finding(history: dict[str, Any]) -> None:
    _, out = _archive(history, str(history["first"]["tree_size"] - 1))
    other = signing.generate("someone-else")
    other_pub = history["tmp"] / "other.pub"
    other_pub.write_text(other.verifier().encode() + "\n")
    result = cli("verify-archive", str(out), "--public-key", str(other_pub), "--format", "json")
    assert result.exit_code == 1 and "checkpoint_signature" in json.loads(result.stdout)["finding_counts"]


def test_an_archived_event_is_proved_from_the_bundle_alone(history: dict[str, Any], kit_conn: Conn) -> None:
    _, out = _archive(history, str(history["first"]["tree_size"] - 1))
    first_update = kit_conn.execute("SELECT min(id) FROM pgaudit_kit.event WHERE op = 'U'").fetchone()
    assert first_update is not None
    proof_file = history["tmp"] / "update.proof.json"
    made = cli("prove", str(first_update[0]), "--archive", str(out), "--out", str(proof_file))
    assert made.exit_code == 0, made.stderr
    document = json.loads(proof_file.read_text())
    assert document["tree_size"] == history["first"]["tree_size"] and document["event"]["op"] == "U"
    checked = cli("verify-proof", str(proof_file), "--public-key", str(history["public"]))
    assert checked.exit_code == 0 and checked.stdout.startswith("valid: "), checked.stdout
    # the same proof as the database gives for it
    from_db = cli("prove", str(first_update[0]), dsn=history["dsn"])
    assert json.loads(from_db.stdout)["seq"] == document["seq"]
    later = kit_conn.execute("SELECT max(id) FROM pgaudit_kit.event WHERE op = 'I'").fetchone()
    assert later is not None
    missing = cli("prove", str(later[0]), "--archive", str(out))
    assert missing.exit_code == 2 and "is not in the archive" in missing.stderr


@pytest.mark.parametrize(("kind", "garbage"), [
    ("events", b"not json\n"), ("events", b'{"an": "object"}\n'), ("events", b'["1", {"id": []}]\n'),
    ("blocks", b"[1, 2]\n"), ("blocks", b'{"block_no": "x"}\n'), ("checkpoints", b"[]"),
])
def test_a_hostile_bundle_gives_findings_not_a_crash(history: dict[str, Any], kind: str, garbage: bytes) -> None:
    _, out = _archive(history, str(history["first"]["tree_size"] - 1))
    tampered = _copy(out, "hostile")
    _rewrite(tampered, kind, lambda data: garbage if kind == "checkpoints" else data + garbage)
    report = _verify(tampered, history)
    assert not report["clean"] and report["findings"]
    first = json.loads((out / json.loads((out / "manifest.json").read_text())["files"]["events"]["file"])
                       .read_text().splitlines()[0])[1]
    proved = cli("prove", str(first), "--archive", str(tampered))  # an answer or a usage error, never a crash
    assert proved.exit_code in (0, 2), proved.stderr
