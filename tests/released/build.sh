#!/usr/bin/env bash
# Rebuild the released package that installs revisions 0001-0006 as users got them (tests/support/released.py):
# the wheel of commit 11a33dc, the last commit whose own migrations and sql/v1..v6 shipped those revisions.
# Needs the repository's git history; the wheel is kept in the repository so the tests do not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$here" archive 11a33dc94d5342741b6d41457e6818465facf8ab | tar -x -C "$work"
python3 -m pip wheel -q --no-deps -w "$work/dist" "$work"
cp "$work"/dist/pgaudit_kit-0.1.0-py3-none-any.whl "$here/pgaudit_kit-0.1.0-r0006.whl"
