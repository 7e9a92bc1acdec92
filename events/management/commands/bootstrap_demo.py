import json
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from events import selectors, services
from events.models import Merchant

DEMO_DOMAIN = "demo-store.myshopify.com"


DEMO_DESTINATIONS = [("klaviyo", "Demo Klaviyo (dry run)"), ("loops", "Demo Loops (dry run)")]


class Command(BaseCommand):
    help = "Create (once) a demo merchant and an admin login for local use, and print them."

    def handle(self, *args, **opts):
        merchant = Merchant.objects.filter(shop_domain=DEMO_DOMAIN).first()
        if merchant is None:
            merchant = services.create_merchant(
                "Demo Store",
                shop_domain=DEMO_DOMAIN,
                allowed_origins=["http://127.0.0.1:8000", "http://localhost:8000"],
            )
        self._demo_destinations(merchant)
        User = get_user_model()
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        creds = selectors.merchant_credentials(merchant)
        self.stdout.write(json.dumps({"merchant": creds}, indent=2))
        self.stdout.write(
            self.style.SUCCESS(
                "\nAdmin:    http://127.0.0.1:8000/admin/\n"
                f"Login:    admin / {password}\n"
                "Demo:     http://127.0.0.1:8000/demo/store/\n"
            )
        )

    def _demo_destinations(self, merchant: Merchant) -> None:
        """Dry-run Klaviyo and Loops destinations: requests are built and logged, never sent."""
        from destinations.services import create_destination

        existing = set(merchant.destinations.values_list("kind", flat=True))
        for kind, name in DEMO_DESTINATIONS:
            if kind not in existing:
                create_destination(merchant, kind=kind, api_key=f"demo-{kind}-dry-run-key", name=name, dry_run=True)
