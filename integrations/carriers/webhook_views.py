"""The public webhook receiver (outside /api/v1/; authenticated by EasyPost's HMAC signature)."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import selectors, services
from .easypost import webhooks as easypost_webhooks

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000


@csrf_exempt
@require_POST
def easypost_webhook(request: HttpRequest) -> JsonResponse:
    body = request.body
    if len(body) > MAX_BODY:
        return JsonResponse({"detail": "Body too large."}, status=413)
    if not easypost_webhooks.verify(
        body, request.headers.get("X-Hmac-Signature"), selectors.webhook_secrets()
    ):
        return JsonResponse({"detail": "Invalid signature."}, status=401)
    try:
        payload = json.loads(body)
        event, created = services.webhook_event_record(provider="easypost", payload=payload)
    except (ValueError, TypeError, KeyError):
        return JsonResponse({"detail": "Not an EasyPost Event."}, status=400)
    return JsonResponse({"received": True, "duplicate": not created, "event": event.event_id}, status=200)
