from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from fulfil.tenancy import operator_home_url


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        user = request.user
        if not user.memberships.exists():
            # Operator staff work across merchants: the warehouse screens. Anyone else: the profile step.
            return operator_home_url() if user.is_operator else reverse("accounts:profile")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return reverse("accounts:profile")

    def get_email_verification_redirect_url(self, email_address):
        return reverse("accounts:profile")
