#!/usr/bin/env bash
# Rebuild the released packages that install earlier revisions as users got them (tests/support/released.py):
#   r0006: the wheel of commit 11a33dc, the last commit whose own migrations and sql/v1..v6 shipped 0001-0006;
#   r0010: the wheel of commit 1ca86f6, the head of the stop that released 0010 (it installs 0010).
# Needs the repository's git history; the wheels are kept in the repository so the tests do not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build() {  # commit, revision
    local work
    work=$(mktemp -d)
    git -C "$here" archive "$1" | tar -x -C "$work"
    python3 -m pip wheel -q --no-deps -w "$work/dist" "$work"
    cp "$work"/dist/pgaudit_kit-0.1.0-py3-none-any.whl "$here/pgaudit_kit-0.1.0-r$2.whl"
    rm -rf "$work"
}
build 11a33dc94d5342741b6d41457e6818465facf8ab 0006
build 1ca86f612b38eb0e48587c00a2f117390e02fbe1 0010
