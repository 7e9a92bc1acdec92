import json
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from destinations.clients import kind_choices
from destinations.services import create_destination
from events import selectors, services
from events.demo import DEMO_DOMAIN
from events.models import Merchant

DEMO_DESTINATIONS = [(kind, f"Demo {label} (dry run)") for kind, label in kind_choices()]


def demo_origins(run_addr: str, public_base_url: str) -> list[str]:
    """The origins the demo store is opened from: RUN_ADDR (as 127.0.0.1 and localhost) and PUBLIC_BASE_URL."""
    port = run_addr.rpartition(":")[2] or "8000"
    host = run_addr.rpartition(":")[0] or "127.0.0.1"
    origins = [f"http://{host}:{port}", f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    parts = urlsplit(public_base_url)
    if parts.scheme and parts.netloc:
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return list(dict.fromkeys(o for o in origins if "0.0.0.0" not in o))  # noqa: S104 - a bind address, not an origin


class Command(BaseCommand):
    help = "Create (once) a demo merchant and an admin login for local use, and print them."

    def handle(self, *args, **opts):
        origins = demo_origins(settings.RUN_ADDR, settings.PUBLIC_BASE_URL)
        merchant = Merchant.objects.filter(shop_domain=DEMO_DOMAIN).first()
        if merchant is None:
            merchant = services.create_merchant("Demo Store", shop_domain=DEMO_DOMAIN, allowed_origins=origins)
        elif missing := [o for o in origins if o not in merchant.allowed_origins]:
            merchant.allowed_origins = [*merchant.allowed_origins, *missing]  # another RUN_ADDR: keep the old ones
            merchant.save(update_fields=["allowed_origins"])
        self._demo_destinations(merchant)
        login = self._admin_login()
        self.stdout.write(json.dumps({"merchant": selectors.merchant_credentials(merchant)}, indent=2))
        base = settings.PUBLIC_BASE_URL
        self.stdout.write(
            self.style.SUCCESS(f"\nAdmin:    {base}/admin/\nLogin:    {login}\nDemo:     {base}/demo/store/\n")
        )

    def _admin_login(self) -> str:
        """A superuser "admin" with a new random password the first time; an existing one is left alone."""
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            return "admin (password unchanged; `.venv/bin/python manage.py changepassword admin` sets a new one)"
        password = secrets.token_urlsafe(9)
        User.objects.create_superuser("admin", email="", password=password)
        return f"admin / {password}"

    def _demo_destinations(self, merchant: Merchant) -> None:
        """Dry-run Klaviyo and Loops destinations: requests are built and logged, never sent."""
        existing = set(merchant.destinations.values_list("kind", flat=True))
        for kind, name in DEMO_DESTINATIONS:
            if kind not in existing:
                create_destination(merchant, kind=kind, api_key=f"demo-{kind}-dry-run-key", name=name, dry_run=True)
