"""Playwright against Debian's Chromium and pytest-django's live server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _apt_install() -> None:
    apt = shutil.which("apt-get")
    if apt is None:
        return
    install = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
        subprocess.run([apt, "update"], capture_output=True, timeout=600)
        subprocess.run(install, capture_output=True, timeout=900)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        try:
            _apt_install()
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"Chromium is not installed and apt-get failed: {exc}")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium could not be installed at {CHROMIUM} (apt-get install -y chromium failed)")
    return CHROMIUM


class _SharedBrowser:
    """One Playwright + Chromium per process, however many modules import the fixture.

    Playwright's sync API cannot run twice in one thread, and other test modules import
    ``browser`` from here (each import is its own session fixture): they share this one.
    """

    def __init__(self) -> None:
        self.users = 0
        self.playwright = None
        self.browser = None
        self.previous_env: str | None = None

    def acquire(self, executable: str):
        if self.users == 0:
            from playwright.sync_api import sync_playwright

            # The sync API keeps an event loop in this thread; ORM calls between browser
            # steps are ordinary synchronous code, so Django's async guard steps aside
            # while a browser is open (restored afterwards).
            self.previous_env = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        self.users += 1
        return self.browser

    def release(self) -> None:
        self.users -= 1
        if self.users:
            return
        try:
            self.browser.close()
            self.playwright.stop()
        finally:
            self.browser = self.playwright = None
            if self.previous_env is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = self.previous_env


_SHARED = _SharedBrowser()


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        yield _SHARED.acquire(chromium_path)
    finally:
        _SHARED.release()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # a deadline for every expectation, generous on a busy CI machine
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # a support agent's laptop
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def fake_klaviyo():
    from tests.browser.fake_klaviyo import FakeServer

    with FakeServer() as server:
        yield server


@pytest.fixture
def screenshot(page, tmp_path):
    """Full-page PNGs: into docs/screenshots/ with UPDATE_SCREENSHOTS=1, else a temp dir (no churn)."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, page=page, full_page: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


class SerialWSGIServer(WSGIServer):
    """One request at a time: the in-memory SQLite connection is shared with this thread."""

    def __init__(self, *args, connections_override=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)


class SerialLiveServerThread(LiveServerThread):
    server_class = SerialWSGIServer


@pytest.fixture
def console_server(transactional_db):
    """A live server on 127.0.0.1 (ephemeral port) serving requests one at a time.

    pytest-django's live_server is threaded; with SQLite's shared in-memory test database
    concurrent requests (the pixel's beacons, the live stream's polling) would share one
    connection across threads. Serving serially keeps every database backend honest.
    The test thread itself stays off the database while the browser drives the server.
    """
    overrides = {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}
    for conn in overrides.values():
        conn.inc_thread_sharing()
    thread = SerialLiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=overrides, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait(timeout=30)
    if thread.error:
        raise thread.error
    try:
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in overrides.values():
            conn.dec_thread_sharing()
