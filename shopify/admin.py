"""Admin for Shopify webhooks: the raw delivery log (read-only, reprocess), stores, known orders and checkouts."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from config.admin import EstimatedCountPaginator, ReadOnlyAdminMixin, WebhookLogAdminMixin
from shopify import selectors, services
from shopify.models import ShopifyCheckout, ShopifyOrder, ShopifyStore, ShopifyWebhook

STATE_COLOURS = {"processed": "succeeded", "waiting": "held", "failed": "dead", "received": "pending", "stale": "held"}


class ShopifyStoreForm(forms.ModelForm):
    """Secrets are write-only: blank keeps the stored value, and nothing is ever rendered back."""

    webhook_secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    admin_api_token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = ShopifyStore
        fields = ["merchant", "webhook_secret", "admin_api_token"]

    def clean(self):
        data = super().clean()
        for name in ("webhook_secret", "admin_api_token"):
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        return data


@admin.register(ShopifyStore)
class ShopifyStoreAdmin(admin.ModelAdmin):
    form = ShopifyStoreForm
    list_display = ["merchant", "webhook_url", "has_secret", "created_at"]
    list_select_related = ["merchant"]
    readonly_fields = ["webhook_url"]

    @admin.display(description="Webhook URL (paste into Shopify)")
    def webhook_url(self, obj: ShopifyStore) -> str:
        return selectors.get_webhook_url(obj) if obj.pk else "(saved first)"

    @admin.display(description="Signing key set", boolean=True)
    def has_secret(self, obj: ShopifyStore) -> bool:
        return bool(obj.webhook_secret)


@admin.register(ShopifyWebhook)
class ShopifyWebhookAdmin(WebhookLogAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "merchant", "topic", "resource_id", "state_chip", "triggered_at", "error"]
    list_filter = ["state", "topic", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=resource_id", "=webhook_id", "=event_id"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    state_colours = STATE_COLOURS
    reprocess_perm = "shopify.change_shopifywebhook"
    reprocess_webhook = staticmethod(services.reprocess_shopify_webhook)
    fields = [
        "merchant",
        "topic",
        "resource_id",
        "state",
        "error",
        "webhook_id",
        "event_id",
        "triggered_at",
        "api_version",
        "received_at",
        "processed_at",
        "result",
        "body_pretty",
    ]
    readonly_fields = fields


@admin.register(ShopifyOrder)
class ShopifyOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order_id", "name", "merchant", "email", "anonymous_id", "updated_at"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=order_id", "=name", "=email", "=checkout_token"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [
        "merchant",
        "order_id",
        "name",
        "email",
        "checkout_token",
        "cart_token",
        "anonymous_id",
        "payload",
        "triggered_at",
        "created_at",
        "updated_at",
    ]


@admin.register(ShopifyCheckout)
class ShopifyCheckoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["token", "merchant", "email", "completed_at", "updated_at"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=token", "=cart_token", "=email"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [
        "merchant",
        "token",
        "cart_token",
        "abandoned_checkout_url",
        "email",
        "completed_at",
        "triggered_at",
        "created_at",
        "updated_at",
    ]
