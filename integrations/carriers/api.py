"""Carrier API: shipments (list, detail, void) and a rate quote for a parcel."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfil.api import Conflict
from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404

from . import selectors, services
from .base import Address, Parcel, ShipOptions
from .exceptions import NoRateAvailable, ShipmentStateError
from .models import Shipment
from .serializers import RateQuoteRequestSerializer, RateQuoteResponseSerializer, ShipmentSerializer


class ShipmentListApi(generics.ListAPIView):
    serializer_class = ShipmentSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("order", int, description="order id"),
            OpenApiParameter("tracking_number", str),
            OpenApiParameter("status", str, enum=[s for s, _ in Shipment.Status.choices]),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        order = params.get("order", "")
        if order and not order.isdigit():
            raise ValidationError({"order": ["An order id (integer)."]})
        return selectors.shipment_list(
            merchant=self.request.merchant,
            order=int(order) if order else None,
            tracking_number=params.get("tracking_number", "").strip(),
            status=params.get("status", "").strip(),
        ).prefetch_related("tracking_events")


class ShipmentDetailApi(APIView):
    @extend_schema(responses=ShipmentSerializer)
    def get(self, request, shipment_id: int):
        shipment = get_for_merchant_or_404(
            Shipment.objects.prefetch_related("tracking_events"), request.merchant, pk=shipment_id
        )
        return Response(ShipmentSerializer(shipment, context={"request": request}).data)


class ShipmentVoidApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: ShipmentSerializer,
            409: inline_serializer("ShipmentConflict", {"detail": serializers.CharField()}),
        },
    )
    def post(self, request, shipment_id: int):
        shipment = get_for_merchant_or_404(Shipment.objects, request.merchant, pk=shipment_id)
        try:
            with audit_context(actor_for_request(request, source="api")):
                shipment = services.shipment_void(merchant=request.merchant, shipment=shipment)
        except ShipmentStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(ShipmentSerializer(shipment, context={"request": request}).data)


class RateQuoteApi(APIView):
    """Rates for a parcel from every enabled account, ranked by the merchant's rule (nothing is bought)."""

    @extend_schema(request=RateQuoteRequestSerializer, responses={200: RateQuoteResponseSerializer})
    def post(self, request):
        data = RateQuoteRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        to = Address.from_dict(v["to"])
        if not to.street1 or not to.postal_code:
            raise ValidationError({"to": ["street1 and postal_code are required."]})
        try:
            origin = selectors.ship_from_warehouse(merchant=request.merchant, code=v.get("warehouse"))
        except LookupError as exc:
            raise ValidationError({"warehouse": [str(exc)]}) from exc
        parcel = Parcel(
            weight_g=v["weight_g"],
            length_mm=v["length_mm"],
            width_mm=v["width_mm"],
            height_mm=v["height_mm"],
            hazmat=v["hazmat"],
            lithium=v["lithium"],
        )
        options = ShipOptions(signature=v["signature"], insurance_amount=v.get("insurance_amount"))
        try:
            result = services.rates_shop(
                merchant=request.merchant,
                parcel=parcel,
                to_address=to,
                from_warehouse=origin,
                service_level=v["service_level"],
                options=options,
                raise_if_empty=False,
            )
        except NoRateAvailable as exc:  # pragma: no cover - raise_if_empty=False
            raise Conflict(str(exc)) from exc
        out = result.as_dict()
        if not result.ranked:
            out["reason"] = str(NoRateAvailable(services.no_rate_reasons(result)))
        return Response(out)
