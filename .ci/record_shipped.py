"""Write pgaudit_kit/shipped_functions/<revision>.json: what a revision ships, read off a real database.

    python .ci/record_shipped.py            # the newest revision, installed from the current sql/ sources
    python .ci/record_shipped.py 0003       # a released revision, installed by the released package

Run it after adding a revision (tests/db/test_shipped.py fails while the newest record is stale). Records of
released revisions never change: a test holds each to the databases the released package installs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer  # noqa: E402
from pgaudit_kit.schema import installer, shipped  # noqa: E402
from pgaudit_kit.schema.resources import shipped_dir  # noqa: E402
from pgaudit_kit.schema.revisions import head_revision  # noqa: E402
from tests.support.released import RELEASED_REVISIONS, install_released  # noqa: E402


def main(revisions: list[str]) -> None:
    with TempServer() as server:
        for revision in revisions or [head_revision()]:
            name = f"record_{revision}"
            with psycopg.connect(server.dsn(), autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {name}")
            dsn = server.dsn(name)
            if revision == head_revision() and revision not in RELEASED_REVISIONS:
                installer.install(connector(dsn))
            else:
                install_released(dsn, revision)
            with psycopg.connect(dsn) as conn:
                document = shipped.record(conn, revision)
            path = shipped_dir() / f"{revision}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(shipped.render(document), encoding="utf-8")
            print(f"{path}: {len(document['functions'])} functions")


if __name__ == "__main__":
    main(sys.argv[1:])
