"""Sales-channel API (read connections and their health; trigger a test or a reconciliation)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404
from integrations import selectors, services
from integrations.base import ProviderError
from integrations.models import ChannelConnection


def _merchant(request):
    merchant = getattr(request, "merchant", None)
    if merchant is None:
        raise PermissionDenied("This endpoint needs a merchant API key.")
    return merchant


class ConnectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChannelConnection
        fields = [
            "id",
            "platform",
            "name",
            "account_id",
            "status",
            "status_reason",
            "broken_since",
            "review",
            "import_from",
            "import_statuses",
            "inventory_sync",
            "inventory_buffer",
            "shipping_map",
            "last_order_sync_at",
            "last_push_at",
            "last_webhook_at",
            "rate_limited_until",
            "connected_at",
        ]


class ConnectionListApi(generics.ListAPIView):
    serializer_class = ConnectionSerializer

    def get_queryset(self):
        return selectors.connection_list(merchant=_merchant(self.request)).order_by("pk")


class ConnectionDetailApi(generics.RetrieveAPIView):
    serializer_class = ConnectionSerializer

    def get_object(self):
        return get_for_merchant_or_404(
            ChannelConnection.objects, _merchant(self.request), pk=self.kwargs["pk"]
        )


HealthSerializer = inline_serializer(
    "ChannelHealth",
    {
        "last_inbound_ok": serializers.DateTimeField(allow_null=True),
        "last_outbound_ok": serializers.DateTimeField(allow_null=True),
        "orders_today": serializers.IntegerField(),
        "webhook_lag_median_s": serializers.FloatField(allow_null=True),
        "inbox_pending": serializers.IntegerField(),
        "pushes_pending": serializers.IntegerField(),
        "errors_24h": serializers.IntegerField(),
        "dead_letters_open": serializers.IntegerField(),
        "rate_limited_until": serializers.DateTimeField(allow_null=True),
    },
)


class ConnectionHealthApi(APIView):
    @extend_schema(responses=HealthSerializer)
    def get(self, request, pk: int):
        conn = get_for_merchant_or_404(ChannelConnection.objects, _merchant(request), pk=pk)
        health = selectors.connection_health(connection=conn)
        return Response({k: health[k] for k in HealthSerializer.fields})


ActionResult = inline_serializer(
    "ChannelActionResult", {"ok": serializers.BooleanField(), "message": serializers.CharField()}
)


class ConnectionTestApi(APIView):
    @extend_schema(request=None, responses=ActionResult)
    def post(self, request, pk: int):
        conn = get_for_merchant_or_404(ChannelConnection.objects, _merchant(request), pk=pk)
        with audit_context(actor_for_request(request)):
            check = services.connection_test(connection=conn)
        return Response({"ok": check.ok, "message": check.message})


class ConnectionSyncApi(APIView):
    @extend_schema(request=None, responses=ActionResult)
    def post(self, request, pk: int):
        conn = get_for_merchant_or_404(ChannelConnection.objects, _merchant(request), pk=pk)
        try:
            with audit_context(actor_for_request(request)):
                result = services.orders_reconcile(connection=conn)
        except ProviderError as exc:
            return Response({"ok": False, "message": str(exc)}, status=502)
        return Response({"ok": True, "message": f"{result['fetched']} fetched, {result['created']} new"})
