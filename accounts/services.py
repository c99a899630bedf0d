from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import ApiKey, Membership, Merchant, User
from fulfil.audit import audit_record


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "merchant"
    slug, n = base, 1
    while Merchant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def merchant_create(*, owner: User, name: str, **profile) -> Merchant:
    merchant = Merchant.objects.create(name=name, slug=_unique_slug(name), **profile)
    Membership.objects.create(user=owner, merchant=merchant, role=Membership.Role.OWNER)
    audit_record(
        obj_type="merchant",
        obj_id=merchant.pk,
        action="created",
        merchant_id=merchant.pk,
        after={"name": name},
    )
    return merchant


@transaction.atomic
def merchant_update_profile(*, merchant: Merchant, **fields) -> Merchant:
    stored = Merchant.objects.get(pk=merchant.pk)
    before = {k: getattr(stored, k) for k in fields}
    for k, v in fields.items():
        setattr(merchant, k, v)
    merchant.save(update_fields=list(fields))
    audit_record(
        obj_type="merchant",
        obj_id=merchant.pk,
        action="profile_updated",
        merchant_id=merchant.pk,
        before=before,
        after=fields,
    )
    return merchant


def api_key_create(*, user: User, membership: Membership | None, name: str = "API key") -> tuple[ApiKey, str]:
    """Returns the key row and the raw key, which is shown once and never stored."""
    if membership is not None and membership.user_id != user.pk:
        raise ValueError("The membership belongs to another user.")
    if membership is None and not user.is_operator:
        raise ValueError("Only operator staff may hold keys without a merchant.")
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        user=user, membership=membership, name=name, prefix=raw[:12], key_hash=ApiKey.hash(raw)
    )
    audit_record(
        obj_type="api_key",
        obj_id=key.pk,
        action="created",
        merchant_id=membership.merchant_id if membership else None,
        after={"name": name, "prefix": key.prefix},
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(obj_type="api_key", obj_id=key.pk, action="revoked", merchant_id=key.merchant_id)
