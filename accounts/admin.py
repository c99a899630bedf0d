from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiKey, Membership, Merchant, PhoneVerification, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "operator_role",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["operator_role", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name", "phone"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal", {"fields": ("first_name", "last_name", "phone", "phone_verified")}),
        ("Operator", {"fields": ("operator_role", "warehouse_codes")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "operator_role")}),
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "country", "currency", "is_active", "created_at"]
    list_filter = ["plan", "is_active", "country"]
    search_fields = ["name", "slug", "contact_email", "contact_name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "merchant__name"]
    autocomplete_fields = ["user", "merchant"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "membership", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]


@admin.register(PhoneVerification)
class PhoneVerificationAdmin(admin.ModelAdmin):
    list_display = ["phone", "user", "created_at", "expires_at", "attempts", "verified_at"]
    list_filter = [("verified_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["phone", "user__email"]
    readonly_fields = [
        "user",
        "phone",
        "code_hash",
        "reference",
        "attempts",
        "created_at",
        "expires_at",
        "verified_at",
    ]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False
