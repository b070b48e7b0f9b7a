"""The package's structure: modules import, no import cycle, sub-packages depend one way (the data path), only
the entry point imports the command line, and the public API is what the package exports, loaded lazily."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pgaudit_kit

# -- module structure ------------------------------------------------------------------------------------
PACKAGE_DIR = Path(pgaudit_kit.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the pgaudit_kit modules it imports, at any depth of its code (imports inside functions
    count: they only defer a cycle, they do not remove it)."""
    files = {_module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
            for target in targets:
                while target and target not in files:  # pgaudit_kit.x.y where y is a name in module x
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def test_every_module_imports() -> None:
    for name in sorted(_import_graph()):
        if name != "pgaudit_kit.__main__":  # importing it runs the command line
            importlib.import_module(name)


def test_no_import_cycle_among_modules() -> None:
    graph = _import_graph()
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = path[path.index(module):] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for target in sorted(graph[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_only_the_entry_point_imports_the_command_line() -> None:
    graph = _import_graph()
    command_line = {name for name in graph if name == "pgaudit_kit.cli" or name.startswith("pgaudit_kit.cli.")}
    offenders = {name: sorted(graph[name] & command_line) for name in graph.keys() - command_line
                 if graph[name] & command_line and name != "pgaudit_kit.__main__"}
    assert not offenders, f"library modules import the command line: {offenders}"
    assert len(command_line) > 2 and "pgaudit_kit.cli.group" in command_line


# Each sub-package may import only from those of a lower layer (and itself). The top-level package is the
# public facade (lazy exports) and alembic_ops a public module for users' migrations: both may use any.
LAYERS = {"core": 0, "pg": 1, "app": 1, "control": 2, "log": 2, "schema": 3, "verify": 4, "review": 4, "doctor": 4, "alerts": 5,
          "cli": 6}


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def test_subpackages_depend_one_way() -> None:
    graph = _import_graph()
    wrong = []
    for module, targets in graph.items():
        source = _subpackage(module)
        if source is None:
            assert module in ("pgaudit_kit", "pgaudit_kit.__main__", "pgaudit_kit.alembic_ops"), \
                f"{module}: modules belong in a sub-package that follows the data path"
            continue
        for target in targets:
            layer = _subpackage(target)
            if layer is not None and layer != source and LAYERS[layer] >= LAYERS[source]:
                wrong.append(f"{module} -> {target}")
    assert wrong == [], f"imports against the layering {LAYERS}: {wrong}"


def test_public_api_loads_lazily() -> None:
    for name in pgaudit_kit.__all__:
        assert callable(getattr(pgaudit_kit, name)) or name == "__version__", name
    # importing the package loads neither Alembic nor the database driver
    probe = ("import sys, pgaudit_kit; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'sqlalchemy', 'psycopg')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# What a command line that only answers (help, version, a usage error) must not load: the database driver,
# the signing library, Alembic and SQLAlchemy (issue 19: every command paid 0.46 s for them before it did anything).
HEAVY = ("psycopg", "cryptography", "sqlalchemy", "alembic", "prometheus_client")


@pytest.mark.parametrize("args", [
    ["--version"], ["--help"], ["log", "--help"], ["verify", "--help"], ["doctor", "--help"], ["enable", "--help"],
    ["metrics", "--help"], ["metrics", "--listen", "nowhere"],
    ["log", "--no-such-option"], ["log", "--order", "sideways"], ["nosuchcommand"], ["enable", "t", "--truncate", "x"],
    ["doctor", "--accept", "nosuchitem"], ["history"],
], ids=" ".join)
def test_answers_and_usage_errors_load_no_database_stack(args: list[str]) -> None:
    probe = ("import json, sys\nfrom pgaudit_kit.cli import main\ntry:\n"
             f"    main({args!r}, prog_name='pgaudit-kit')\nexcept SystemExit as exc:\n    code = exc.code\n"
             f"print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})]), "
             "file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert code in (0, 2) and loaded == [], (code, loaded, done.stdout[-500:], done.stderr[-500:])
    assert (code == 0) == ("--help" in args or "--version" in args), done.stderr


def test_library_operations_take_a_connection_not_a_dsn() -> None:
    """The command line opens the connection; the library is handed one (or a connect function, where it opens
    several or reconnects). Only connection-making code (pg.db, pg.tempserver) and the CLI see a DSN."""
    takes_dsn = []
    for path in sorted(Path(pgaudit_kit.__file__).resolve().parent.rglob("*.py")):
        relative = path.relative_to(Path(pgaudit_kit.__file__).resolve().parent).as_posix()
        if relative.startswith("cli/") or relative in ("pg/db.py", "pg/tempserver.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if any(arg.arg == "dsn" for arg in node.args.args + node.args.kwonlyargs):
                    takes_dsn.append(f"{relative}: {node.name}")
    assert takes_dsn == []


def test_every_subpackage_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages the wheel holds: a new sub-package left out of it works from the
    source tree and is missing once installed."""
    listed = set(tomllib.loads((PACKAGE_DIR.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {_module_name(path) for path in PACKAGE_DIR.rglob("__init__.py")}
    assert packages - listed == set()
