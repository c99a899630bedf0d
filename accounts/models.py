from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone as dj_tz


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("operator_role", User.OperatorRole.OPERATOR_ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Merchants' people reach a merchant through ``Membership``; the operator's people
    (our warehouse company) have an ``operator_role`` and work across merchants in their warehouses."""

    class OperatorRole(models.TextChoices):
        NONE = "", "—"
        ASSOCIATE = "associate", "Warehouse associate"
        MANAGER = "manager", "Warehouse manager"
        OPERATOR_ADMIN = "operator_admin", "Operator admin"

    username = None
    email = models.EmailField("email address", unique=True)
    phone = models.CharField(max_length=32, blank=True)
    phone_verified = models.BooleanField(default=False)
    operator_role = models.CharField(max_length=20, choices=OperatorRole.choices, blank=True, default="")
    warehouse_codes = models.JSONField(
        "assigned warehouses",
        default=list,
        blank=True,
        help_text='Codes of the warehouses this operator works in, e.g. ["WH1"]. Empty: none (operator admins '
        "work in every warehouse).",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def is_operator(self) -> bool:
        return bool(self.operator_role) or self.is_superuser

    @property
    def works_everywhere(self) -> bool:
        """Operator admins and superusers work in every warehouse, assigned or not."""
        return self.is_superuser or self.operator_role == self.OperatorRole.OPERATOR_ADMIN

    def works_in(self, warehouse_code: str) -> bool:
        """Associates and managers work only in the warehouses they are assigned to (none when none are
        listed); operator admins and superusers everywhere; merchants' people on no warehouse floor."""
        if not self.is_operator:
            return False
        return self.works_everywhere or warehouse_code in (self.warehouse_codes or [])

    @property
    def is_warehouse_manager(self) -> bool:
        return (
            self.operator_role in (self.OperatorRole.MANAGER, self.OperatorRole.OPERATOR_ADMIN)
            or self.is_superuser
        )


class Merchant(models.Model):
    """The tenant."""

    class Plan(models.TextChoices):
        STANDARD = "standard", "Standard (pay as you go)"
        GROWTH = "growth", "Growth"
        ENTERPRISE = "enterprise", "Enterprise"

    name = models.CharField("company name", max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)
    street1 = models.CharField(max_length=200, blank=True)
    street2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US")
    timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, default="USD")
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.STANDARD)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_tz.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def profile_complete(self) -> bool:
        return bool(self.name and self.street1 and self.city and self.postal_code and self.contact_name)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=dj_tz.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "merchant"], name="membership_user_merchant")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"

    @property
    def can_admin(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class ApiKey(models.Model):
    """A Bearer key. It belongs to one user's membership (merchant keys) or to an operator user
    (warehouse staff keys, ``membership`` empty) and acts with that role. Only a hash is stored."""

    PREFIX = "ful_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, default="API key")
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=dj_tz.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def merchant_id(self) -> int | None:
        return self.membership.merchant_id if self.membership_id else None


class PhoneVerification(models.Model):
    """One code sent to a phone number. The code itself is never stored: only its keyed hash (codes Fulfil
    makes) or the provider's reference (Twilio Verify makes and checks the code)."""

    MAX_ATTEMPTS = 5  # wrong codes before a new one must be sent

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="phone_verifications")
    phone = models.CharField(max_length=32, help_text="E.164, e.g. +13035550123")
    code_hash = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=64, blank=True, help_text="the SMS provider's verification id")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=dj_tz.now, db_index=True)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "created_at"], name="phoneverif_phone_created")]
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.phone} for {self.user}"

    def is_open(self, now=None) -> bool:
        """Can still be answered: not verified, not expired, attempts left."""
        now = now or dj_tz.now()
        return self.verified_at is None and self.expires_at > now and self.attempts < self.MAX_ATTEMPTS
