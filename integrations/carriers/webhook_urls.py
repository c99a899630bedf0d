"""Mounted at /integrations/carriers/ by fulfil/urls.py."""

from django.urls import path

from .webhook_views import easypost_webhook

urlpatterns = [
    path("easypost/webhooks/", easypost_webhook, name="carriers_easypost_webhook"),
]
