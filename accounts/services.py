from __future__ import annotations

from datetime import timedelta

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import sms
from accounts.models import ApiKey, Membership, Merchant, PhoneVerification, User
from fulfil.audit import audit_record

PHONE_CODE_TTL = timedelta(minutes=10)
PHONE_RESEND_AFTER = timedelta(seconds=30)  # between two codes for one user
PHONE_MAX_SENDS = 5  # codes per user, and per phone number, in PHONE_SEND_WINDOW
PHONE_SEND_WINDOW = timedelta(hours=1)


class PhoneVerificationError(Exception):
    """A refusal the person can act on; ``str(exc)`` is shown to them."""


class PhoneRateLimited(PhoneVerificationError):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


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


@transaction.atomic
def staff_warehouse_assign(*, staff: User, code: str, assigned: bool = True) -> User:
    """Assign operator staff to the warehouse ``code`` (or unassign them); each change is audited. The caller
    checks that the acting manager may manage ``code``."""
    staff = User.objects.select_for_update().get(pk=staff.pk)
    before = sorted(staff.warehouse_codes or [])
    after = sorted(set(before) | {code}) if assigned else [c for c in before if c != code]
    if after != before:
        staff.warehouse_codes = after
        staff.save(update_fields=["warehouse_codes"])
        audit_record(
            obj_type="user",
            obj_id=staff.pk,
            action="warehouse_assigned" if assigned else "warehouse_unassigned",
            before={"warehouse_codes": before},
            after={"warehouse_codes": after},
            message=f"{staff.email} {'assigned to' if assigned else 'unassigned from'} {code}",
        )
    return staff


def phone_normalize(*, raw: str, region: str = "US") -> str:
    """A phone number as typed → E.164 (``+13035550123``), or a ``ValidationError``."""
    try:
        number = phonenumbers.parse(raw, region or "US")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("Enter a phone number, e.g. +1 303 555 0123.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("This is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_mask(phone: str) -> str:
    return phone[:-4].translate(str.maketrans("0123456789", "•" * 10)) + phone[-4:] if phone else ""


def phone_verification_open(*, user: User) -> PhoneVerification | None:
    """The code the user can still answer, if any (the newest one only)."""
    latest = PhoneVerification.objects.filter(user=user).order_by("-pk").first()
    return latest if latest is not None and latest.is_open() else None


def phone_verification_start(
    *, user: User, phone: str, region: str = "US", backend: sms.SmsBackend | None = None
) -> PhoneVerification:
    """Send a fresh 6-digit code to ``phone``. Refused (``PhoneRateLimited``) within 30 s of the previous
    code, and past 5 codes an hour per user or per number (SMS pumping). Earlier codes stop working."""
    phone = phone_normalize(raw=phone, region=region)
    backend = backend or sms.get_backend()
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one send at a time per user
        recent = PhoneVerification.objects.filter(created_at__gt=now - PHONE_SEND_WINDOW)
        last = recent.filter(user=user).order_by("-created_at").first()
        if last is not None and last.created_at > now - PHONE_RESEND_AFTER:
            wait = int((last.created_at + PHONE_RESEND_AFTER - now).total_seconds()) + 1
            raise PhoneRateLimited(f"A code was just sent. You can ask for another in {wait} seconds.", wait)
        if recent.filter(user=user).count() >= PHONE_MAX_SENDS or recent.filter(phone=phone).count() >= (
            PHONE_MAX_SENDS
        ):
            raise PhoneRateLimited("Too many codes were sent. Try again in an hour.", 3600)
        # Supersede earlier codes, then reserve this send (it counts even if the provider fails below).
        PhoneVerification.objects.filter(user=user, verified_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        verification = PhoneVerification.objects.create(
            user=user, phone=phone, created_at=now, expires_at=now + PHONE_CODE_TTL
        )
    try:
        started = backend.start(phone=phone)
    except sms.SmsError:
        PhoneVerification.objects.filter(pk=verification.pk).update(expires_at=now)
        raise
    with transaction.atomic():
        verification.code_hash = started.code_hash
        verification.reference = started.reference[:64]
        verification.save(update_fields=["code_hash", "reference"])
        audit_record(
            obj_type="user", obj_id=user.pk, action="phone_code_sent", after={"phone": phone_mask(phone)}
        )
    return verification


def phone_verification_confirm(*, user: User, code: str, backend: sms.SmsBackend | None = None) -> bool:
    """Check ``code`` against the user's open verification. True: the phone is now verified.
    False: a wrong code (one attempt used). ``PhoneVerificationError`` when no code can be answered."""
    backend = backend or sms.get_backend()
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == sms.CODE_LENGTH):
        raise PhoneVerificationError(f"Enter the {sms.CODE_LENGTH}-digit code from the text message.")
    with transaction.atomic():
        verification = PhoneVerification.objects.select_for_update().filter(user=user).order_by("-pk").first()
        if verification is None or verification.verified_at is not None:
            raise PhoneVerificationError("Send a code to your phone first.")
        if verification.expires_at <= timezone.now():
            raise PhoneVerificationError("This code has expired. Send a new one.")
        if verification.attempts >= PhoneVerification.MAX_ATTEMPTS:
            raise PhoneVerificationError("Too many wrong codes. Send a new one.")
        verification.attempts += 1
        started = sms.Started(code_hash=verification.code_hash, reference=verification.reference)
        ok = backend.check(phone=verification.phone, code=code, started=started)
        if ok:
            verification.verified_at = timezone.now()
            before = {"phone": user.phone, "phone_verified": user.phone_verified}
            user.phone, user.phone_verified = verification.phone, True
            user.save(update_fields=["phone", "phone_verified"])
            audit_record(
                obj_type="user",
                obj_id=user.pk,
                action="phone_verified",
                before=before,
                after={"phone": user.phone, "phone_verified": True},
            )
        verification.save(update_fields=["attempts", "verified_at"])
    return ok
