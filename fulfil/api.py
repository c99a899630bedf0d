"""API conventions shared by every app's ``api.py`` (see ../shared/API.md)."""

from __future__ import annotations

import hashlib
import json
import logging
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from fulfil.models import IdempotencyRecord

log = logging.getLogger(__name__)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's state does not allow this."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler plus: Django validation errors are 400, integrity races are 409, never a bare 500 page."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = NotFound("Not found.")
    if isinstance(exc, PermissionDenied):
        return Response({"detail": str(exc) or "You do not have permission to do this."}, status=403)
    if isinstance(exc, IntegrityError):
        log.warning("integrity error answered as 409: %s", exc)
        return Response({"detail": "The request conflicts with the current state. Retry."}, status=409)
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 429 and "Retry-After" not in response:
        response["Retry-After"] = "1"
    return response


def _idempotency_scope(request) -> str:
    key_id = getattr(request, "api_key_id", None)
    if key_id:
        return f"key:{key_id}"
    return f"user:{getattr(request.user, 'pk', 'anon')}:m:{getattr(getattr(request, 'merchant', None), 'pk', '')}"


def idempotent(view_method):
    """Decorate a DRF view method that creates things. With an ``Idempotency-Key`` header, a retry returns
    the first answer (status and body) and creates nothing; the same key with a different body is a 409."""

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            return Response({"Idempotency-Key": ["At most 255 characters."]}, status=400)
        scope = _idempotency_scope(request)
        body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True, default=str).encode()).hexdigest()
        try:
            with transaction.atomic():
                record, created = IdempotencyRecord.objects.select_for_update().get_or_create(
                    scope=scope,
                    key=key,
                    defaults={
                        "method": request.method,
                        "path": request.path[:500],
                        "request_hash": body_hash,
                    },
                )
        except IntegrityError:
            record, created = IdempotencyRecord.objects.get(scope=scope, key=key), False
        if not created:
            if record.request_hash != body_hash or record.path != request.path[:500]:
                return Response(
                    {"detail": "This Idempotency-Key was used with a different request."}, status=409
                )
            if record.status_code is None:
                return Response(
                    {"detail": "A request with this Idempotency-Key is still in progress."}, status=409
                )
            replay = Response(record.response_body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            # Raised errors (validation, 404, 409 ...) are not stored: a retry runs the view again and
            # gets the same answer, instead of "still in progress" forever.
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code < 500:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code, response_body=response.data
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return response

    return wrapper
