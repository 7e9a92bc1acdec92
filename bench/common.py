"""Shared benchmark plumbing: the bench database, production-like environment, process RSS,
machine facts and result files. Benchmarks print figures; they are never timed tests."""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/recapture"
BENCH_DB = "recapture_bench"


def pg_url(name: str = BENCH_DB) -> str:
    """The bench database on the server of DATABASE_URL (PostgreSQL), never a test database."""
    url = os.environ.get("DATABASE_URL", "") or DEFAULT_PG
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_PG
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """Production settings (DEBUG off, generated secrets, no SSL redirect) for subprocesses."""
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def shell_json(env: dict[str, str], code: str, *, timeout: float = 300) -> Any:
    """Run Python in the app's context; the code prints one JSON document last."""
    return json.loads(manage(env, "shell", "-c", code, timeout=timeout).strip().splitlines()[-1])


def rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(re.search(r"PPid:\s+(\d+)", (entry / "status").read_text()).group(1))
        except (OSError, AttributeError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid``, its descendants and their reaped children.

    Wall-clock rates on a shared 2-core machine move with whatever else runs; the CPU a
    process tree spent per unit of work does much less, so benchmarks report both."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime (stat fields 14-17)
    return ticks / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples the RSS of every process under the given roots; keeps each one's peak (MB)."""

    def __init__(self, roots: dict[str, int], interval: float = 0.5) -> None:
        self.roots, self.interval = roots, interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for label, root in self.roots.items():
                for pid in process_tree(root):
                    key = f"{label}:{pid}"
                    self.peaks[key] = max(self.peaks.get(key, 0.0), rss_mb(pid))
            self._stop.wait(self.interval)

    def max_by_label(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in self.peaks.items():
            label = key.split(":")[0]
            out[label] = round(max(out.get(label, 0.0), value), 1)
        return out


def machine() -> dict[str, Any]:
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        # Other processes (e.g. test suites) competing for the cores when the result was written.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def write_result(name: str, doc: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    doc = {"benchmark": name, "run_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **doc}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}", flush=True)
    return path


def wait_for(predicate: Any, *, timeout: float, interval: float = 0.2, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
