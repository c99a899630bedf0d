"""DRF classes named in settings (kept apart from fulfil.api to avoid an import cycle with APIView)."""

from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


class KeyRateThrottle(SimpleRateThrottle):
    """Per API key (or per user for session calls)."""

    scope = "key"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        ident = getattr(request, "api_key_id", None) or f"user{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonBurstThrottle(SimpleRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
