import json

from django.core.management.base import BaseCommand

from config.services import rotate_encryption_key


class Command(BaseCommand):
    help = "Re-encrypt every secret at rest with the first key of FIELD_ENCRYPTION_KEYS; prints counts as JSON."

    def handle(self, *args, **opts):
        self.stdout.write(json.dumps(rotate_encryption_key()))
