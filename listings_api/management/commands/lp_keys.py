"""`manage.py lp_keys`: print the listing provider's public key and its address."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from listings_api.keys import provider_address, provider_pubkey_hex


class Command(BaseCommand):
    help = (
        "Print the listing provider's X25519 public key and its address in join-link form "
        "(<base URL>/?public_key=<hex>). Creates the key file (LP_KEY_FILE) on first use."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"public key: {provider_pubkey_hex()}")
        self.stdout.write(f"address:    {provider_address()}")
