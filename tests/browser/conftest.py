"""Playwright against Debian's Chromium and pytest-django's live server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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

# Playwright's sync API keeps an event loop in this thread; our ORM calls between
# browser steps are ordinary synchronous code, so Django's async guard must step aside.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def fake_klaviyo():
    from tests.browser.fake_klaviyo import FakeServer

    with FakeServer() as server:
        yield server


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
