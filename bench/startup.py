"""How long the command line takes to answer before it does any work (issue 19, item 3).

    python -m bench.startup --json bench/startup.json                         # from the repository root
    python -m bench.startup --before /path/to/older/checkout --json ...       # and an older tree beside it

Each case runs the console entry point (``pgaudit_kit.cli:main``, as the installed ``pgaudit-kit`` script
does) in a fresh interpreter RUNS times, alternating the trees, and reports the median and 90th percentile
wall time: ``--version``, ``--help``, a command's ``--help`` and a usage error, beside a bare interpreter
(``python -c pass``) and ``import click``, the floor any click program pays. No database is involved.
Target: ``pgaudit-kit --version`` under 150 ms on a 2-core machine.

Not a test: nothing here asserts; it prints PASS/MISS against the target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
ENTRY = "import sys\nfrom pgaudit_kit.cli import main\nsys.exit(main())"
CASES: dict[str, list[str]] = {
    "--version": ["--version"],
    "--help": ["--help"],
    "log --help": ["log", "--help"],
    "usage error (log --order sideways)": ["log", "--order", "sideways"],
}
FLOORS: dict[str, str] = {"python -c pass": "pass", "import click": "import click"}
TARGET_SECONDS = 0.150


def _time(code: str, args: list[str], tree: Path | None) -> float:
    """Wall time of one fresh interpreter running *code*, importing the package from *tree*. It runs in the
    filesystem root: `python -c` puts the working directory first on sys.path, before PYTHONPATH."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd="/", stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if tree is not None and done.returncode not in (0, 2):
        raise SystemExit(f"{tree}: {args} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--before", type=Path, help="an older checkout of the repository to time beside this one")
    parser.add_argument("--json", type=Path, help="write the results here")
    options = parser.parse_args()
    trees: dict[str, Path | None] = {"current": HERE}
    if options.before is not None:
        trees = {"before": options.before.resolve(), **trees}
    samples: dict[str, list[float]] = {}
    for _ in range(options.runs):  # interleaved, so that load on the machine falls on every case alike
        for floor, code in FLOORS.items():
            samples.setdefault(floor, []).append(_time(code, [], None))
        for label, tree in trees.items():
            for case, args in CASES.items():
                samples.setdefault(f"{label}: {case}", []).append(_time(ENTRY, args, tree))
    results = {name: _summary(times) for name, times in samples.items()}
    for name, result in results.items():
        verdict = ""
        if name == "current: --version":
            verdict = "  PASS" if result["median_ms"] / 1000 < TARGET_SECONDS else "  MISS"
        print(f"{name:48} median {result['median_ms']:7.1f} ms   p90 {result['p90_ms']:7.1f} ms{verdict}")
    if options.json:
        report: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": options.runs,
            "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "trees": {label: str(tree) for label, tree in trees.items()}, "results": results}
        options.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
