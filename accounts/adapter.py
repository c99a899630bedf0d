from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        if getattr(request, "merchant", None) is None and not request.user.memberships.exists():
            return reverse("accounts:profile")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return reverse("accounts:profile")

    def get_email_verification_redirect_url(self, email_address):
        return reverse("accounts:profile")
