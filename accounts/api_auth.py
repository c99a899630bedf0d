from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>``. Sets ``request.merchant``/``request.membership`` from the key."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <key>'.")
        key = (
            ApiKey.objects.select_related("user", "membership__merchant")
            .filter(key_hash=ApiKey.hash(parts[1]), revoked_at__isnull=True)
            .first()
        )
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        if key.membership_id and not key.membership.merchant.is_active:
            raise exceptions.AuthenticationFailed("This merchant account is inactive.")
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        django_request = request._request
        django_request.api_key_id = key.pk
        django_request.api_key_label = f"api key {key.prefix}…"
        django_request.membership = key.membership
        django_request.merchant = key.membership.merchant if key.membership_id else None
        return (key.user, key)

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.ApiKeyAuthentication"
    name = "BearerApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key from Settings → API keys."}
