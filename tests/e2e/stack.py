"""End-to-end infrastructure: a throwaway database, `manage.py` helpers, a real qcluster
worker and a real HTTP server (gunicorn on 127.0.0.1, ephemeral port), all subprocesses.

The subprocesses cannot see pytest-django's (possibly in-memory) test database, so a
stack owns its own: a temporary SQLite *file* by default, or, when DATABASE_URL points at
PostgreSQL, a fresh database ``e2e_<random>`` on that server, dropped afterwards.
Everything started here is stopped in ``close()`` with bounded waits.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2, message: str = "") -> Any:
    """Poll ``predicate`` until truthy; fail after ``timeout`` seconds (never an open-ended sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


class Stack:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []
        self._pg_admin_url = ""
        self.database_url = self._create_database()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": self.database_url,
            "Q_SYNC": "false",
            "Q_POLL": "0.05",
            "Q_LOG_LEVEL": "ERROR",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.manage("migrate", "--noinput", timeout=180)
        self.manage("createcachetable")

    # --- database ------------------------------------------------------------------
    def _create_database(self) -> str:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith("postgres"):
            return f"sqlite:///{self.tmp_path / 'e2e.sqlite3'}"
        import psycopg

        name = f"e2e_{uuid.uuid4().hex[:12]}"
        parts = urlsplit(url)
        self._pg_admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._pg_name = name
        return urlunsplit(parts._replace(path=f"/{name}"))

    def _drop_database(self) -> None:
        if not self._pg_admin_url:
            return
        import psycopg

        with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')

    # --- commands --------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise AssertionError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def shell(self, code: str, *, timeout: float = 60) -> Any:
        """Run Python in the app's context; the code prints one JSON document, returned parsed."""
        out = self.manage("shell", "-c", code, timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])

    # --- long-running processes ------------------------------------------------------
    def _spawn(self, args: list[str], log: str) -> subprocess.Popen:
        handle = open(self.tmp_path / log, "w")
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()  # the child keeps its own descriptor
        process.log_path = self.tmp_path / log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def start_worker(self) -> subprocess.Popen:
        """A real django-q2 cluster (``manage.py qcluster``) on the ORM broker."""
        return self._spawn([PYTHON, "manage.py", "qcluster"], "qcluster.log")

    def start_sweeper(self, *, interval: float = 0.5, lifetime: float = 90) -> subprocess.Popen:
        """Stand-in for django-q2's scheduler (which fires at most every 30 s): queue the delivery
        sweep every ``interval`` seconds, so retries are driven at test speed. Bounded by ``lifetime``."""
        code = (
            "import time\n"
            "from django_q.tasks import async_task\n"
            f"end = time.monotonic() + {lifetime}\n"
            "while time.monotonic() < end:\n"
            "    async_task('destinations.tasks.sweep_deliveries')\n"
            f"    time.sleep({interval})\n"
        )
        return self._spawn([PYTHON, "manage.py", "shell", "-c", code], "sweeper.log")

    def start_run_sweeper(self, *, tick: float = 0.5) -> subprocess.Popen:
        """The real sweeper process (``manage.py run_sweeper``), as production runs it beside the
        workers; stopped by SIGTERM at teardown."""
        return self._spawn([PYTHON, "manage.py", "run_sweeper", "--tick", str(tick)], "run_sweeper.log")

    def start_server(self, *, timeout: float = 30) -> str:
        """gunicorn bound to 127.0.0.1:0; returns its base URL once it listens."""
        process = self._spawn(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "-b",
                "127.0.0.1:0",
                "-w",
                "2",
                "--log-level",
                "info",
            ],
            "server.log",
        )

        def port() -> str | None:
            if process.poll() is not None:
                raise AssertionError(process.log_path.read_text())
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", process.log_path.read_text())
            return found.group(1) if found else None

        return f"http://127.0.0.1:{wait_until(port, timeout=timeout, message='gunicorn to listen')}"

    def logs(self, *, tail: int = 3000) -> str:
        """The end of every subprocess log (for failure messages)."""
        return "\n".join(f"--- {p.log_path.name}\n{p.log_path.read_text()[-tail:]}" for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.processes.clear()
        self._drop_database()
