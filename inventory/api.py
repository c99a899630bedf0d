"""The inventory API (see ../shared/API.md): products, warehouses, inventory levels, the ledger, ASNs."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfil.api import Conflict, idempotent
from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404
from inventory import selectors, services
from inventory.exceptions import InventoryError
from inventory.models import InboundShipment, Location, Product, ProductPhoto, Warehouse
from inventory.serializers import (
    InboundCreateSerializer,
    InboundShipmentSerializer,
    InventoryLevelSerializer,
    MovementSerializer,
    ProductPhotoSerializer,
    ProductPhotoUploadSerializer,
    ProductSerializer,
    ReceiveSerializer,
    WarehouseSerializer,
)


def _merchant(request):
    return getattr(request, "merchant", None)


def _require_merchant(request):
    merchant = _merchant(request)
    if merchant is None:
        raise PermissionDenied("This endpoint needs a merchant API key.")
    return merchant


def _resolve_components(merchant, components):
    out = []
    errors = []
    for c in components:
        product = Product.objects.for_merchant(merchant).filter(sku=c["sku"]).first()
        if product is None:
            errors.append(f"Unknown SKU {c['sku']}.")
        else:
            out.append((product, c["quantity"]))
    if errors:
        raise ValidationError({"components": errors})
    return out


def _parse_since(raw: str) -> datetime:
    dt = parse_datetime(raw)
    if dt is None:
        d = parse_date(raw)
        if d is None:
            raise ValidationError({"since": ["Use an ISO 8601 date or date-time."]})
        dt = datetime.combine(d, time.min)
    if timezone.is_naive(dt):
        dt = timezone.make_aware(dt, UTC)
    return dt


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, description="SKU, name or barcode contains"),
        OpenApiParameter("status", str, enum=[s.value for s in Product.Status]),
        OpenApiParameter("sku", str, description="exact SKU"),
    ]
)
class ProductListCreateApi(generics.ListCreateAPIView):
    serializer_class = ProductSerializer

    def get_queryset(self):
        qs = selectors.product_list(
            merchant=_merchant(self.request),
            q=self.request.query_params.get("q", ""),
            status=self.request.query_params.get("status", ""),
        )
        if self.request.query_params.get("sku"):
            qs = qs.filter(sku=self.request.query_params["sku"])
        return qs.order_by("sku", "pk")

    @idempotent
    def post(self, request, *args, **kwargs):
        merchant = _require_merchant(request)
        serializer = ProductSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        components = _resolve_components(merchant, data.pop("components", []) or [])
        try:
            with audit_context(actor_for_request(request)), transaction.atomic():
                product = services.product_create(
                    merchant=merchant,
                    sku=data.pop("sku"),
                    name=data.pop("name"),
                    components=components or None,
                    **data,
                )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(
            ProductSerializer(product, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ProductDetailApi(APIView):
    serializer_class = ProductSerializer

    def _get(self, request, sku: str) -> Product:
        return get_for_merchant_or_404(Product.objects, _merchant(request), sku=sku)

    @extend_schema(responses=ProductSerializer)
    def get(self, request, sku: str):
        return Response(ProductSerializer(self._get(request, sku), context={"request": request}).data)

    @extend_schema(request=ProductSerializer, responses=ProductSerializer)
    def patch(self, request, sku: str):
        product = self._get(request, sku)
        serializer = ProductSerializer(product, data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        components = data.pop("components", None)
        try:
            with audit_context(actor_for_request(request)), transaction.atomic():
                if data:
                    services.product_update(product=product, **data)
                if components is not None:
                    services.product_set_components(
                        kit=product, components=_resolve_components(product.merchant_id, components)
                    )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        product.refresh_from_db()
        return Response(ProductSerializer(product, context={"request": request}).data)


class ProductPhotoListApi(APIView):
    """A product's photos: upload one (multipart ``image``, optional ``primary``) or list them."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ProductPhotoSerializer

    def _product(self, request, sku: str) -> Product:
        return get_for_merchant_or_404(Product.objects, _merchant(request), sku=sku)

    @extend_schema(responses=ProductPhotoSerializer(many=True))
    def get(self, request, sku: str):
        product = self._product(request, sku)
        rows = list(ProductPhoto.objects.filter(product=product).order_by("created_at", "pk"))
        for row in rows:
            row.product = product
        return Response(ProductPhotoSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(
        request={"multipart/form-data": ProductPhotoUploadSerializer},
        responses={201: ProductPhotoSerializer},
        description="Adds a photo (JPEG, PNG, WebP or GIF, at most 5 MB, at most 12 per product). The first one "
        "(or one sent with primary=true) becomes the product's photo_url, shown on pick and pack screens.",
    )
    @idempotent
    def post(self, request, sku: str):
        product = self._product(request, sku)
        upload = ProductPhotoUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            with audit_context(actor_for_request(request)):
                photo = services.product_photo_add(
                    product=product,
                    image=upload.validated_data["image"],
                    primary=upload.validated_data.get("primary", False),
                )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        photo.product = Product.objects.get(pk=product.pk)
        return Response(
            ProductPhotoSerializer(photo, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ProductPhotoDetailApi(APIView):
    serializer_class = ProductPhotoSerializer

    def _photo(self, request, sku: str, photo_id: int) -> ProductPhoto:
        product = get_for_merchant_or_404(Product.objects, _merchant(request), sku=sku)
        photo = get_object_or_404(ProductPhoto.objects.filter(product=product), pk=photo_id)
        photo.product = product
        return photo

    @extend_schema(responses=ProductPhotoSerializer)
    def get(self, request, sku: str, photo_id: int):
        return Response(
            ProductPhotoSerializer(self._photo(request, sku, photo_id), context={"request": request}).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, sku: str, photo_id: int):
        photo = self._photo(request, sku, photo_id)
        with audit_context(actor_for_request(request)):
            services.product_photo_delete(photo=photo)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WarehouseListApi(generics.ListAPIView):
    serializer_class = WarehouseSerializer

    def get_queryset(self):
        merchant = _merchant(self.request)
        if merchant is None and getattr(self.request.user, "is_operator", False):
            return Warehouse.objects.filter(is_active=True).order_by("code")
        if merchant is None:
            return Warehouse.objects.none()
        return selectors.warehouse_list(merchant=merchant)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "merchant": _merchant(self.request)}


@extend_schema(
    parameters=[
        OpenApiParameter("sku", str),
        OpenApiParameter("warehouse", str, description="warehouse code"),
    ]
)
class InventoryListApi(generics.ListAPIView):
    serializer_class = InventoryLevelSerializer

    def get_queryset(self):
        return selectors.level_list(
            merchant=_merchant(self.request),
            sku=self.request.query_params.get("sku", ""),
            warehouse=self.request.query_params.get("warehouse", ""),
        ).order_by("product__sku", "warehouse__code", "pk")


@extend_schema(
    parameters=[
        OpenApiParameter("sku", str),
        OpenApiParameter("since", str, description="ISO 8601 date or date-time (UTC when no offset)"),
        OpenApiParameter("type", str, description="movement type, e.g. receive, pick, ship, adjust"),
        OpenApiParameter("warehouse", str, description="warehouse code"),
        OpenApiParameter("reference", str, description="e.g. order_line:42 or asn:7"),
    ]
)
class MovementListApi(generics.ListAPIView):
    serializer_class = MovementSerializer

    def get_queryset(self):
        p = self.request.query_params
        return selectors.movement_list(
            merchant=_merchant(self.request),
            sku=p.get("sku", ""),
            since=_parse_since(p["since"]) if p.get("since") else None,
            type=p.get("type", ""),
            warehouse=p.get("warehouse", ""),
            reference=p.get("reference", ""),
        )


@extend_schema(parameters=[OpenApiParameter("status", str, enum=[s.value for s in InboundShipment.Status])])
class InboundListCreateApi(generics.ListCreateAPIView):
    serializer_class = InboundShipmentSerializer

    def get_queryset(self):
        merchant = _merchant(self.request)
        if merchant is None and getattr(self.request.user, "is_operator", False):
            # staff see the shipments of the warehouses they work in (the warehouse.access rule, works_in)
            qs = _staff_scope(InboundShipment.objects.select_related("warehouse"), self.request.user)
            if self.request.query_params.get("status"):
                qs = qs.filter(status=self.request.query_params["status"])
        else:
            qs = selectors.inbound_list(merchant=merchant, status=self.request.query_params.get("status", ""))
        return qs.prefetch_related("lines__product").order_by("-created_at", "-pk")

    @extend_schema(request=InboundCreateSerializer, responses={201: InboundShipmentSerializer})
    @idempotent
    def post(self, request, *args, **kwargs):
        merchant = _require_merchant(request)
        serializer = InboundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        warehouse = selectors.warehouse_list(merchant=merchant).filter(code=data["warehouse"]).first()
        if warehouse is None:
            raise ValidationError({"warehouse": [f"Unknown warehouse {data['warehouse']}."]})
        lines, errors = [], []
        for line in data["lines"]:
            product = Product.objects.for_merchant(merchant).filter(sku=line["sku"]).first()
            if product is None:
                errors.append(f"Unknown SKU {line['sku']}.")
            else:
                lines.append((product, line["quantity"]))
        if errors:
            raise ValidationError({"lines": errors})
        try:
            with audit_context(actor_for_request(request)):
                shipment = services.inbound_create(
                    merchant=merchant,
                    warehouse=warehouse,
                    lines=lines,
                    reference=data["reference"],
                    expected_at=data["expected_at"],
                    carrier=data["carrier"],
                    tracking_number=data["tracking_number"],
                    notes=data["notes"],
                )
        except InventoryError as exc:
            raise ValidationError({"lines": [str(exc)]}) from exc
        return Response(InboundShipmentSerializer(shipment).data, status=status.HTTP_201_CREATED)


def _staff_scope(qs, user):
    """Rows of the warehouses a staff user works in (all for operator admins) — ``warehouse.access``'s rule,
    which inventory cannot import (layers), applied through ``User.works_in``'s data."""
    if user.works_everywhere:
        return qs
    return qs.filter(warehouse__code__in=list(user.warehouse_codes or []))


def _shipment_for(request, shipment_id: int) -> InboundShipment:
    merchant = _merchant(request)
    if merchant is None and getattr(request.user, "is_operator", False):
        shipment = InboundShipment.objects.filter(pk=shipment_id).first()
        if shipment is None:
            from django.http import Http404

            raise Http404("Not found.")
        return shipment
    return get_for_merchant_or_404(InboundShipment.objects, merchant, pk=shipment_id)


class InboundDetailApi(APIView):
    @extend_schema(responses=InboundShipmentSerializer)
    def get(self, request, shipment_id: int):
        shipment = _shipment_for(request, shipment_id)
        if _merchant(request) is None and not request.user.works_in(shipment.warehouse.code):
            raise PermissionDenied(f"You are not assigned to warehouse {shipment.warehouse.code}.")
        return Response(InboundShipmentSerializer(shipment).data)


class InboundReceiveApi(APIView):
    """Warehouse staff keys only (an operator user's key, no merchant); merchant keys get 403."""

    @extend_schema(request=ReceiveSerializer, responses=InboundShipmentSerializer)
    def post(self, request, shipment_id: int):
        if not getattr(request.user, "is_operator", False) or _merchant(request) is not None:
            raise PermissionDenied("Only warehouse staff can receive stock.")
        shipment = _shipment_for(request, shipment_id)
        if not request.user.works_in(shipment.warehouse.code):  # the staff scoping rule (warehouse.access)
            raise PermissionDenied(f"You are not assigned to warehouse {shipment.warehouse.code}.")
        serializer = ReceiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        location = None
        if data["location"]:
            location = Location.objects.filter(
                warehouse_id=shipment.warehouse_id, code=data["location"]
            ).first()
            if location is None:
                raise ValidationError({"location": [f"No location {data['location']} in this warehouse."]})
        lines, errors = [], []
        for line in data["lines"]:
            product = Product.objects.for_merchant(shipment.merchant_id).filter(sku=line["sku"]).first()
            if product is None:
                errors.append(f"Unknown SKU {line['sku']}.")
                continue
            lines.append(
                services.ReceiptLine(
                    product=product,
                    quantity=line["quantity"],
                    damaged=line["damaged"],
                    lot=line["lot"] or "",
                    expires_on=line["expires_on"],
                )
            )
        if errors:
            raise ValidationError({"lines": errors})
        try:
            with audit_context(actor_for_request(request)):
                shipment = services.inbound_receive(
                    merchant=shipment.merchant_id,
                    shipment=shipment,
                    lines=lines,
                    location=location,
                    close=data["close"],
                )
        except InventoryError as exc:
            raise Conflict(str(exc)) from exc
        return Response(InboundShipmentSerializer(shipment).data)
