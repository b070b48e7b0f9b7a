"""What each Alembic revision shipped, as data: for every kit function (the generated capture functions
aside), its identity, a digest of its source, its language, security, pinned settings, owner and grantees.

One JSON file per revision in ``pgaudit_kit/shipped_functions/``, generated from a real database at that
revision (``python .ci/record_shipped.py``; a test fails when the newest one is stale). Coverage, `verify`'s
drift checks and `install`'s refusal to overwrite drift compare the catalog with these records: nothing
parses SQL text at run time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import psycopg

from ..core.names import KIT_ROLES
from .resources import shipped_dir

# The owner recorded for functions the installing superuser owns (SECURITY DEFINER functions that need its
# rights): its name differs from one installation to the next.
INSTALLER = "(installer)"

_FUNCTIONS = """
SELECT p.pronamespace::regnamespace::text || '.' || p.proname::text AS name,
       p.oid::regprocedure::text AS signature,
       p.prosrc AS source,
       l.lanname::text AS language,
       p.prosecdef AS security_definer,
       COALESCE(p.proconfig, '{}') AS config,
       pg_catalog.pg_get_userbyid(p.proowner)::text AS owner,
       ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END
               FROM pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
              WHERE a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE'
              ORDER BY 1) AS grantees,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS comment
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace IN ('pgaudit_kit'::regnamespace, pg_catalog.to_regnamespace('pgaudit_kit_guard'))
   AND p.proname::text !~ '^capture_[0-9]+$'
 ORDER BY 1"""


@dataclass(frozen=True)
class ShippedFunction:
    """One kit function as a revision installs it."""

    name: str  # qualified name, e.g. pgaudit_kit.seal
    signature: str  # regprocedure text, e.g. pgaudit_kit.seal(integer,boolean)
    source_sha256: str
    language: str
    security_definer: bool
    config: tuple[str, ...]
    owner: str  # a kit role, or INSTALLER
    grantees: tuple[str, ...]  # who may EXECUTE besides the owner (PUBLIC included), sorted
    comment_sha256: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def functions_in(conn: psycopg.Connection[Any]) -> dict[str, tuple[ShippedFunction, str]]:
    """Qualified name -> (record, source) of every kit function in the database, capture functions aside."""
    found: dict[str, tuple[ShippedFunction, str]] = {}
    for name, signature, source, language, secdef, config, owner, grantees, comment in conn.execute(_FUNCTIONS):
        record = ShippedFunction(
            name=name, signature=signature, source_sha256=source_digest(source), language=language,
            security_definer=bool(secdef), config=tuple(config), owner=owner if owner in KIT_ROLES else INSTALLER,
            grantees=tuple(grantees), comment_sha256=None if comment is None else source_digest(comment))
        found[name] = (record, source)
    return found


def record(conn: psycopg.Connection[Any], revision: str) -> dict[str, Any]:
    """The JSON document that records what the database's kit, at *revision*, consists of."""
    functions = [rec.as_dict() for rec, _ in functions_in(conn).values()]
    return {"revision": revision, "functions": sorted(functions, key=lambda f: f["name"])}


@cache
def load(revision: str) -> dict[str, ShippedFunction]:
    """Qualified name -> what *revision* shipped. Raises LookupError for a revision without a record."""
    path = shipped_dir() / f"{revision}.json"
    if not path.is_file():
        raise LookupError(f"pgaudit-kit has no record of what revision {revision} shipped")
    document = json.loads(path.read_text(encoding="utf-8"))
    return {f["name"]: ShippedFunction(
        name=f["name"], signature=f["signature"], source_sha256=f["source_sha256"], language=f["language"],
        security_definer=f["security_definer"], config=tuple(f["config"]), owner=f["owner"],
        grantees=tuple(f["grantees"]), comment_sha256=f["comment_sha256"]) for f in document["functions"]}


def function_of_source(path: str) -> str | None:
    """The qualified name of the function a source defines (``functions/seal.sql``: pgaudit_kit.seal,
    ``functions/pgaudit_kit_guard.refuse_drop.sql``: pgaudit_kit_guard.refuse_drop), None for other sources."""
    folder, _, file = path.partition("/")
    if folder != "functions" or not file.endswith(".sql"):
        return None
    stem = file.removesuffix(".sql")
    return stem if "." in stem else f"pgaudit_kit.{stem}"


def newest_revision() -> str:
    """The newest revision with a record: the one this package installs (a test holds it to Alembic's head;
    reading it here spares the readers of the records from loading Alembic)."""
    return max(path.stem for path in shipped_dir().glob("*.json"))


def render(document: dict[str, Any]) -> str:
    """The file's text: stable, one function per line, so a diff names what changed."""
    lines = [f'{{"revision": {json.dumps(document["revision"])}, "functions": [']
    lines += [json.dumps(f, sort_keys=True) + ("," if i < len(document["functions"]) - 1 else "")
              for i, f in enumerate(document["functions"])]
    lines.append("]}")
    return "\n".join(lines) + "\n"
