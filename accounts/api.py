"""The accounts API: who a key acts as (``GET /api/v1/me/``) and the caller's API keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey, Merchant, User


class MeUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "phone_verified",
            "operator_role",
            "warehouse_codes",
        ]


class MeMerchantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = ["id", "name", "slug", "country", "timezone", "currency", "plan"]


class MeKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["name", "prefix"]


class MeSerializer(serializers.Serializer):
    user = MeUserSerializer()
    merchant = MeMerchantSerializer(allow_null=True, help_text="null for a warehouse staff key")
    role = serializers.ChoiceField(
        choices=["owner", "admin", "member"], allow_null=True, help_text="the membership's role"
    )
    is_operator = serializers.BooleanField()
    api_key = MeKeySerializer(allow_null=True, help_text="null when called with a browser session")


class ApiKeySerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "is_active"]


class MeApi(APIView):
    @extend_schema(
        responses=MeSerializer,
        summary="Who this key acts as",
        description="The key's user, its merchant and role (null merchant and role for staff keys).",
    )
    def get(self, request):
        membership = getattr(request, "membership", None)
        key = request.auth if isinstance(request.auth, ApiKey) else None
        data = {
            "user": request.user,
            "merchant": membership.merchant if membership else None,
            "role": membership.role if membership else None,
            "is_operator": request.user.is_operator,
            "api_key": key,
        }
        return Response(MeSerializer(data).data)


@extend_schema(summary="The caller's API keys for this merchant (newest first)")
class ApiKeyListApi(generics.ListAPIView):
    serializer_class = ApiKeySerializer

    def get_queryset(self):
        membership = getattr(self.request, "membership", None)
        keys = ApiKey.objects.filter(user=self.request.user)
        if membership is None:
            keys = keys.filter(membership__isnull=True)
        else:
            keys = keys.filter(membership=membership)
        return keys.order_by("-created_at", "-pk")
