"""A throwaway PostgreSQL server on loopback, made the way the postgres image's entrypoint makes one.

Uses the server binaries of the machine (Debian's postgresql package); as root, the server runs as
the ``postgres`` system user, since initdb refuses root. ``missing()`` says why none can run here.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


BIN = _bin_dir()
AS_ROOT = os.geteuid() == 0


def missing() -> str | None:
    if BIN is None or not (BIN / "pg_ctl").exists() or not shutil.which("psql"):
        return "no PostgreSQL server binaries (initdb, pg_ctl, psql) on this machine"
    if AS_ROOT and (shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True, check=False).returncode):
        return "running as root without a postgres user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``initdb`` with ``superuser``/``password`` (scram), a database ``database`` it owns, started."""

    def __init__(self, superuser: str, password: str, database: str):
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kubeops-pg-"))
        self.data = self.root / "data"
        (self.root / "pw").write_text(password + "\n")
        if AS_ROOT:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.root / "pw", "postgres")
        try:
            self._run([BIN / "initdb", "-D", self.data, "-U", superuser, f"--pwfile={self.root / 'pw'}",
                       "--auth=scram-sha-256", "--no-sync"])
            self._run([BIN / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "start", "-o",
                       f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"])
            self.psql(superuser, password, "postgres", f'CREATE DATABASE "{database}"')
        except BaseException:
            self.stop()  # no server or directory left behind by a failed start
            raise

    def _run(self, command: list) -> None:
        command = [str(part) for part in command]
        if AS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def psql(self, user: str, password: str, database: str, sql: str) -> str:
        result = subprocess.run(["psql", "--no-psqlrc", "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database,
                                 "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True,
                                env={**os.environ, "PGPASSWORD": password}, check=True)
        return result.stdout.strip()

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run([BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
