"""Webhook receivers, mounted at /integrations/ (not under /app/: platforms call these, not people)."""

from django.urls import path

from integrations import webhooks

urlpatterns = [
    path("shopify/webhooks/", webhooks.shopify_webhook, name="integrations_shopify_webhook"),
    path(
        "shopify/fulfillment-service/fulfillment_order_notification",
        webhooks.shopify_fulfillment_service,
        name="integrations_shopify_fulfillment_service",
    ),
    path("shopify/oauth/callback/", webhooks.shopify_oauth_callback, name="integrations_shopify_callback"),
    path(
        "woocommerce/webhooks/<int:connection_id>/",
        webhooks.woocommerce_webhook,
        name="integrations_woocommerce_webhook",
    ),
]
