"""What an operator does first, on a fresh copy of the project: copy .env.example, migrate, serve.

Each test copies the project into a temporary folder (a fresh clone, no .env of the
developer's) and runs manage.py there in subprocesses with an environment that holds
none of the project's variables, as a newcomer's shell would.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = [
    "manage.py",
    "config",
    "events",
    "identity",
    "destinations",
    "returns",
    "shopify",
    "pipeline",
    "console",
    "templates",
    ".env.example",
]

# In a fresh SQLite database: a merchant, one event posted through the real URL, /readyz,
# and a destination whose API key is stored encrypted and read back by the next process.
REQUEST_SCRIPT = """
import json
from django.test import Client
from django.utils import timezone
from destinations.models import Destination
from events.models import Merchant
from events import services
merchant = Merchant.objects.filter(shop_domain="acme.myshopify.com").first()
if merchant is None:
    merchant = services.create_merchant("Acme", shop_domain="acme.myshopify.com", allowed_origins=["https://acme.com"])
    from destinations.services import create_destination
    create_destination(merchant, kind="klaviyo", api_key="pk_operator_key_1234", name="Klaviyo")
client = Client(HTTP_HOST="127.0.0.1")
ready = client.get("/readyz")
event = {"event_id": "ev-" + timezone.now().isoformat(), "type": "AddToCart", "anonymous_id": "a1",
         "properties": {"ProductID": "1", "Price": 5.0, "Currency": "USD"}}
ingest = client.post("/api/v1/events", data=json.dumps(event), content_type="application/json",
                     HTTP_X_WRITE_KEY=merchant.write_key, HTTP_ORIGIN="https://acme.com")
home = client.get("/")
print(json.dumps({"readyz": [ready.status_code, ready.json()], "ingest": [ingest.status_code, ingest.json()],
                  "home": home.status_code, "api_key": Destination.objects.get(merchant=merchant).api_key}))
"""


def _fresh_copy(tmp_path: Path) -> Path:
    target = tmp_path / "recapture"
    target.mkdir()
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def _newcomer_env() -> dict[str, str]:
    names = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("DJANGO_", "Q_"))}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    return env


def _manage(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _requests(project: Path, env: dict[str, str]) -> dict:
    out = _manage(project, "shell", "-c", REQUEST_SCRIPT, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_env_example_copied_to_env_boots_unchanged(tmp_path):
    project = _fresh_copy(tmp_path)
    env = _newcomer_env()
    _manage(project, "migrate", "--noinput", "-v", "0", env=env)
    before = _requests(project, env)  # no .env yet: the API key is stored with the default key

    shutil.copy(project / ".env.example", project / ".env")
    assert "System check identified no issues" in _manage(project, "check", env=env).stdout
    after = _requests(project, env)

    assert after["readyz"][0] == 200, after
    assert after["ingest"] == [202, {"accepted": 1, "duplicates": 0, "errors": []}]
    assert after["home"] in (200, 302)
    # the copied file keeps the same development key: secrets stored before it are still readable
    assert before["api_key"] == after["api_key"] == "pk_operator_key_1234"


def test_migrate_alone_sets_up_a_database_that_ingests(tmp_path):
    project = _fresh_copy(tmp_path)
    env = _newcomer_env()
    _manage(project, "migrate", "--noinput", "-v", "0", env=env)  # no createcachetable
    result = _requests(project, env)
    assert result["readyz"] == [
        200,
        {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"}},
    ]
    assert result["ingest"][0] == 202


@pytest.mark.parametrize("limits", ["email=2,phone=3", "email=2;phone=3"])
def test_identifier_limits_in_the_documented_format_parse(limits):
    from config.settings.parsing import parse_limits

    parsed = parse_limits(limits, default={"email": 5, "phone": 5, "fbp": 100})
    assert parsed == {"email": 2, "phone": 3, "fbp": 100}


def test_identifier_limits_malformed_is_a_clear_error():
    from django.core.exceptions import ImproperlyConfigured

    from config.settings.parsing import parse_limits

    with pytest.raises(ImproperlyConfigured, match="'email' is not type=N"):
        parse_limits("email,phone=5", default={})


def test_documented_identifier_limits_line_parses():
    from config.settings.parsing import parse_limits

    line = next(x for x in (ROOT / ".env.example").read_text().splitlines() if x.startswith("IDENTITY_IDENTIFIER"))
    assert parse_limits(line.split("=", 1)[1], default={})["anonymous_id"] == 100


def _readme_operator_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Operators", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_operator_commands_run_as_written(tmp_path):
    """The README's operator block, line by line, on a migrated fresh copy (MERCHANT_ID filled in)."""
    project = _fresh_copy(tmp_path)
    env = _newcomer_env()
    _manage(project, "migrate", "--noinput", "-v", "0", env=env)
    commands = _readme_operator_commands()
    assert [c.split()[2] for c in commands] == ["create_merchant", "rotate_write_key", "add_destination"]
    merchant_id = ""
    for command in commands:
        assert command.startswith(".venv/bin/python manage.py ")
        args = command.removeprefix(".venv/bin/python manage.py ").replace("MERCHANT_ID", merchant_id)
        out = json.loads(_manage(project, *shlex.split(args), env=env).stdout)
        merchant_id = merchant_id or str(out["id"])
    assert out["kind"] == "klaviyo" and out["api_key_last4"] == "1234"
