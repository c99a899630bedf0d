"""The orders API (see ../shared/API.md): list/create, detail/patch, cancel, hold, release, history."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfil.api import Conflict, idempotent
from fulfil.audit import actor_for_request, audit_context
from orders import selectors, services
from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.exceptions import InvalidOrder, OrderError
from orders.models import OrderStatus
from orders.serializers import (
    CancelSerializer,
    HistoryEntrySerializer,
    HoldSerializer,
    OrderCreateSerializer,
    OrderOutSerializer,
    OrderPatchSerializer,
)

LIST_PARAMS = [
    OpenApiParameter("status", str, description="comma-separated statuses", enum=None),
    OpenApiParameter("channel", str, description="comma-separated channels"),
    OpenApiParameter("q", str, description="order number, external id, customer name or email"),
    OpenApiParameter("customer", str),
    OpenApiParameter("sku", str),
    OpenApiParameter("warehouse", str, description="warehouse code"),
    OpenApiParameter("exception", str, description="open exception reason"),
    OpenApiParameter("created_after", str, description="ISO date or datetime"),
    OpenApiParameter("created_before", str, description="ISO date or datetime"),
    OpenApiParameter("sort", str, enum=list(selectors.SORTS)),
    OpenApiParameter("cursor", str),
    OpenApiParameter("limit", int),
]
OrderPage = inline_serializer(
    "OrderPage",
    {
        "results": OrderOutSerializer(many=True),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
    },
)
Detail = inline_serializer("OrderDetailMessage", {"detail": serializers.CharField()})


def _conflict(exc: OrderError) -> Conflict:
    return Conflict(str(exc))


def _order_out(order, request) -> dict:
    fresh = selectors.order_get(merchant=request.merchant, order_id=order.pk)
    return OrderOutSerializer(fresh, context={"detail": True, "request": request}).data


def canonical_from_api(data: dict, *, default_channel: str = "api") -> CanonicalOrder:
    ship = data["ship_to"]
    bill = data.get("bill_to")
    return CanonicalOrder(
        channel=data.get("channel") or default_channel,
        external_id=data["external_id"],
        number=data.get("number", ""),
        lines=tuple(
            CanonicalLine(
                sku=line["sku"],
                quantity=line["quantity"],
                unit_price=line.get("unit_price", 0),
                tax=line.get("tax", 0),
                discount=line.get("discount", 0),
                name=line.get("name", ""),
            )
            for line in data["lines"]
        ),
        ship_to=CanonicalAddress(**ship),
        bill_to=CanonicalAddress(**bill) if bill else None,
        customer_name=data.get("customer_name", ""),
        customer_email=data.get("customer_email", ""),
        currency=data.get("currency", "USD"),
        shipping_service=data.get("shipping_service", "standard"),
        shipping_paid=data.get("shipping_paid", 0),
        priority=data.get("priority", 0),
        tags=tuple(data.get("tags") or ()),
        note=data.get("note", ""),
        gift_message=data.get("gift_message", ""),
        placed_at=data.get("placed_at"),
    )


class OrderListCreateApi(APIView):
    @extend_schema(
        operation_id="orders_list",
        parameters=LIST_PARAMS,
        responses={200: OrderPage},
        summary="List orders (keyset pages)",
    )
    def get(self, request):
        filters = {k: request.query_params.get(k) for k in selectors.FILTER_KEYS}
        try:
            limit = int(request.query_params.get("limit", 50))
            page = selectors.order_list(
                merchant=request.merchant,
                filters=filters,
                sort=request.query_params.get("sort", "newest"),
                cursor=request.query_params.get("cursor") or None,
                limit=limit,
                with_lines=True,
            )
            rows = OrderOutSerializer(page.rows, many=True, context={"request": request}).data
        except ValueError as exc:
            raise ValidationError({"detail": [str(exc)]}) from exc
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"results": rows, "next": next_url, "previous": None})

    @extend_schema(
        request=OrderCreateSerializer,
        responses={201: OrderOutSerializer, 200: OrderOutSerializer},
        summary="Create an order (the same external_id returns the existing order with 200)",
    )
    @idempotent
    def post(self, request):
        if request.merchant is None:
            raise ValidationError({"detail": ["This key belongs to no merchant."]})
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with audit_context(actor_for_request(request, "api")):
            try:
                order, created = services.order_import(
                    merchant=request.merchant, order=canonical_from_api(serializer.validated_data)
                )
            except InvalidOrder as exc:
                raise ValidationError(exc.errors) from exc
        return Response(
            _order_out(order, request), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderOutSerializer}, summary="An order with lines, allocations, shipments")
    def get(self, request, order_id: int):
        order = selectors.order_get(merchant=request.merchant, order_id=order_id)
        return Response(OrderOutSerializer(order, context={"detail": True, "request": request}).data)

    @extend_schema(
        request=OrderPatchSerializer,
        responses={200: OrderOutSerializer, 409: Detail},
        summary="Change address, lines, service or priority before picking (409 after)",
    )
    def patch(self, request, order_id: int):
        order = selectors.order_get(merchant=request.merchant, order_id=order_id)
        serializer = OrderPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with audit_context(actor_for_request(request, "api")):
            try:
                with transaction.atomic():
                    if "ship_to" in data:
                        services.order_change_address(
                            order=order, address=dict(request.data.get("ship_to") or {})
                        )
                    if "shipping_service" in data:
                        services.order_change_service(order=order, shipping_service=data["shipping_service"])
                    if "priority" in data:
                        services.order_set_priority(order=order, priority=data["priority"])
                    if data.get("lines"):
                        services.order_change_lines(order=order, changes=[dict(c) for c in data["lines"]])
            except OrderError as exc:
                raise _conflict(exc) from exc
        return Response(_order_out(order, request))


class OrderCancelApi(APIView):
    @extend_schema(
        request=CancelSerializer,
        responses={200: OrderOutSerializer, 409: Detail},
        summary="Cancel the order, or some lines with {'lines': [...]}",
    )
    def post(self, request, order_id: int):
        order = selectors.order_get(merchant=request.merchant, order_id=order_id)
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lines = serializer.validated_data.get("lines")
        with audit_context(actor_for_request(request, "api")):
            try:
                services.order_cancel(
                    order=order,
                    lines=[dict(x) for x in lines] if lines else None,
                    reason=serializer.validated_data.get("reason", ""),
                )
            except OrderError as exc:
                raise _conflict(exc) from exc
        return Response(_order_out(order, request))


class OrderHoldApi(APIView):
    @extend_schema(
        request=HoldSerializer, responses={200: OrderOutSerializer, 409: Detail}, summary="Put on hold"
    )
    def post(self, request, order_id: int):
        order = selectors.order_get(merchant=request.merchant, order_id=order_id)
        serializer = HoldSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with audit_context(actor_for_request(request, "api")):
            try:
                services.order_hold(order=order, reason=serializer.validated_data.get("reason", ""))
            except OrderError as exc:
                raise _conflict(exc) from exc
        return Response(_order_out(order, request))


class OrderReleaseApi(APIView):
    @extend_schema(
        request=None,
        responses={200: OrderOutSerializer, 409: Detail},
        summary="Release a hold, or release an allocated order to the warehouse",
    )
    def post(self, request, order_id: int):
        order = selectors.order_get(merchant=request.merchant, order_id=order_id)
        with audit_context(actor_for_request(request, "api")):
            try:
                if order.status == OrderStatus.ON_HOLD:
                    services.order_unhold(order=order)
                else:
                    services.order_release(order=order)
            except OrderError as exc:
                raise _conflict(exc) from exc
        return Response(_order_out(order, request))


class OrderHistoryApi(APIView):
    @extend_schema(
        responses={200: inline_serializer("OrderHistory", {"results": HistoryEntrySerializer(many=True)})},
        summary="The audit trail: who changed what, when, from where",
    )
    def get(self, request, order_id: int):
        order = selectors.order_get(merchant=request.merchant, order_id=order_id)
        entries = selectors.order_history(order=order)
        return Response({"results": HistoryEntrySerializer(entries, many=True).data})
