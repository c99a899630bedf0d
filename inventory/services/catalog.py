"""Catalog services: products, kits, activation."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record, diff
from inventory.barcodes import validate_barcode
from inventory.models import KitComponent, Product

EDITABLE = [
    "sku",
    "name",
    "description",
    "barcode",
    "weight_g",
    "length_mm",
    "width_mm",
    "height_mm",
    "value",
    "currency",
    "hs_code",
    "country_of_origin",
    "fragile",
    "hazmat",
    "un_class",
    "requires_lot_tracking",
    "requires_expiry_tracking",
    "temperature_min_c",
    "temperature_max_c",
    "humidity_max_pct",
    "packaging",
    "custom_inserts",
    "is_kit",
    "photo",
    "status",
    "low_stock_threshold",
]


def _snapshot(product: Product) -> dict[str, Any]:
    return {f: (str(getattr(product, f)) if f == "photo" else getattr(product, f)) for f in EDITABLE}


def _validate(product: Product) -> None:
    errors: dict[str, list[str]] = {}
    if product.barcode:
        problem = validate_barcode(product.barcode)
        if problem:
            errors["barcode"] = [problem]
    if not product.hazmat and product.un_class:
        errors["un_class"] = ["A UN class is only for hazardous products."]
    if product.hazmat and not product.un_class:
        errors["un_class"] = ["Hazardous products need their UN class (e.g. 3 for flammable liquids)."]
    if (
        product.temperature_min_c is not None
        and product.temperature_max_c is not None
        and product.temperature_min_c > product.temperature_max_c
    ):
        errors["temperature_max_c"] = ["The maximum temperature is below the minimum."]
    if product.sku and (
        Product.objects.filter(merchant_id=product.merchant_id, sku=product.sku)
        .exclude(pk=product.pk)
        .exists()
    ):
        errors["sku"] = [f"You already have a product with SKU {product.sku}."]
    if errors:
        raise ValidationError(errors)


def product_create(
    *, merchant, sku: str, name: str, components: Iterable[tuple[Product, int]] | None = None, **fields: Any
) -> Product:
    product = Product(merchant=merchant, sku=sku.strip(), name=name.strip(), **fields)
    if components:
        product.is_kit = True
    _validate(product)
    with transaction.atomic():
        product.save()
        _photo_row_for_primary(product)
        if components:
            product_set_components(kit=product, components=components)
        audit_record(
            obj_type="product",
            obj_id=product.pk,
            action="create",
            merchant_id=product.merchant_id,
            after=_snapshot(product),
        )
    return product


def product_update(*, product: Product, **fields: Any) -> Product:
    before = _snapshot(product)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if "is_kit" in fields and product.is_kit and not fields["is_kit"] and product.components.exists():
        raise ValidationError({"is_kit": ["Remove the kit's components first."]})
    for key, value in fields.items():
        setattr(product, key, value)
    _validate(product)
    with transaction.atomic():
        product.save()
        if "photo" in fields:
            _photo_row_for_primary(product)
        b, a = diff(before, _snapshot(product))
        if a:
            audit_record(
                obj_type="product",
                obj_id=product.pk,
                action="update",
                merchant_id=product.merchant_id,
                before=b,
                after=a,
            )
    return product


def product_set_components(*, kit: Product, components: Iterable[tuple[Product, int]]) -> None:
    """Replaces a kit's components. A component must be a single (non-kit) product of the same merchant."""
    comps: dict[int, tuple[Product, int]] = {}
    for comp, qty in components:
        if comp.merchant_id != kit.merchant_id:
            raise ValidationError({"components": ["A component must be one of your products."]})
        if comp.pk == kit.pk:
            raise ValidationError({"components": ["A kit cannot contain itself."]})
        if comp.is_kit:
            raise ValidationError({"components": [f"{comp.sku} is itself a kit; kits cannot nest."]})
        if qty < 1:
            raise ValidationError({"components": [f"{comp.sku}: the quantity must be at least 1."]})
        comps[comp.pk] = (comp, comps.get(comp.pk, (comp, 0))[1] + qty)
    with transaction.atomic():
        old_ids = set(KitComponent.objects.filter(kit=kit).values_list("component_id", flat=True))
        KitComponent.objects.filter(kit=kit).delete()
        KitComponent.objects.bulk_create(
            [KitComponent(kit=kit, component=c, quantity=q) for c, q in comps.values()]
        )
        if not kit.is_kit:
            kit.is_kit = True
            kit.save(update_fields=["is_kit", "updated_at"])
        Product.objects.filter(pk__in=list(comps)).update(in_kits=True)
        for pid in old_ids - set(comps):
            if not KitComponent.objects.filter(component_id=pid).exists():
                Product.objects.filter(pk=pid).update(in_kits=False)
        audit_record(
            obj_type="product",
            obj_id=kit.pk,
            action="set_components",
            merchant_id=kit.merchant_id,
            after={"components": {c.sku: q for c, q in comps.values()}},
        )


def catalog_activate(*, merchant, product_ids: Iterable[int] | None = None) -> int:
    """The merchant reviewed the catalog: draft products become active (orderable). Kits need components."""
    qs = Product.objects.for_merchant(merchant).filter(status=Product.Status.DRAFT)
    if product_ids is not None:
        qs = qs.filter(pk__in=list(product_ids))
    with transaction.atomic():
        ids = list(qs.exclude(is_kit=True, components__isnull=True).values_list("pk", flat=True))
        n = Product.objects.filter(pk__in=ids).update(status=Product.Status.ACTIVE, updated_at=timezone.now())
        if n:
            audit_record(
                obj_type="catalog",
                obj_id=getattr(merchant, "pk", merchant),
                action="activate",
                merchant_id=getattr(merchant, "pk", merchant),
                after={"activated": n},
            )
    return n


# --- Photos --------------------------------------------------------------------------------------------

PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PER_PRODUCT = 12
PHOTO_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def _photo_inspect(image) -> tuple[str, int, int]:
    """(content type, width, height) of an uploaded image; ValidationError on the ``image`` field when it is
    too big, not an image, or not a JPEG, PNG, WebP or GIF."""
    from PIL import Image, UnidentifiedImageError

    size = getattr(image, "size", None) or 0
    if size > PHOTO_MAX_BYTES:
        raise ValidationError({"image": [f"The photo is {size / 1048576:.1f} MB; the limit is 5 MB."]})
    if size == 0:
        raise ValidationError({"image": ["The file is empty."]})
    try:
        image.seek(0)
        with Image.open(image) as im:
            fmt = im.format or ""
            width, height = im.size
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            {"image": ["That file is not an image we can read (JPEG, PNG, WebP or GIF)."]}
        ) from exc
    finally:
        image.seek(0)
    if fmt not in PHOTO_FORMATS:
        raise ValidationError(
            {"image": [f"{fmt or 'That'} images are not accepted: use JPEG, PNG, WebP or GIF."]}
        )
    if width > 10000 or height > 10000:
        raise ValidationError({"image": ["The photo is larger than 10,000 pixels on a side."]})
    return PHOTO_FORMATS[fmt], width, height


def _photo_row_for_primary(product: Product) -> None:
    """A photo uploaded through the product form is the primary photo and one of the product's photos."""
    from inventory.models import ProductPhoto

    if product.photo and not ProductPhoto.objects.filter(product=product, image=product.photo.name).exists():
        ProductPhoto.objects.create(
            merchant_id=product.merchant_id, product=product, image=product.photo.name
        )


def product_photo_add(*, product: Product, image, primary: bool = False):
    """Adds a photo to a product. The first photo (or one added with ``primary``) becomes the product's
    ``photo``, the one pick and pack screens show."""
    from inventory.models import ProductPhoto

    content_type, width, height = _photo_inspect(image)
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if ProductPhoto.objects.filter(product=locked).count() >= PHOTO_MAX_PER_PRODUCT:
            raise ValidationError(
                {"image": [f"A product has at most {PHOTO_MAX_PER_PRODUCT} photos; delete one first."]}
            )
        photo = ProductPhoto(
            merchant_id=locked.merchant_id,
            product=locked,
            width=width,
            height=height,
            content_type=content_type,
            size_bytes=getattr(image, "size", 0) or 0,
        )
        photo.image.save(getattr(image, "name", "photo") or "photo", image, save=False)
        photo.save()
        make_primary = primary or not locked.photo
        if make_primary:
            locked.photo.name = photo.image.name
            locked.save(update_fields=["photo", "updated_at"])
            product.photo.name = photo.image.name
        audit_record(
            obj_type="product",
            obj_id=locked.pk,
            action="photo_add",
            merchant_id=locked.merchant_id,
            after={"photo_id": photo.pk, "file": photo.image.name, "primary": make_primary},
        )
    return photo


def product_photo_delete(*, photo) -> None:
    """Removes a photo (and its file). When it was the product's primary photo, the oldest remaining one
    takes its place (or the product has none)."""
    from inventory.models import ProductPhoto

    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=photo.product_id)
        name = photo.image.name
        ProductPhoto.objects.filter(pk=photo.pk).delete()
        if product.photo.name == name:
            nxt = ProductPhoto.objects.filter(product=product).order_by("created_at", "pk").first()
            product.photo.name = nxt.image.name if nxt else ""
            product.save(update_fields=["photo", "updated_at"])
        audit_record(
            obj_type="product",
            obj_id=product.pk,
            action="photo_delete",
            merchant_id=product.merchant_id,
            before={"photo_id": photo.pk, "file": name},
        )
        storage = photo.image.storage
        transaction.on_commit(partial(_delete_file, storage=storage, name=name))


def _delete_file(*, storage, name: str) -> None:
    from inventory.models import ProductPhoto

    if (
        name
        and not ProductPhoto.objects.filter(image=name).exists()
        and not Product.objects.filter(photo=name).exists()
    ):
        storage.delete(name)
