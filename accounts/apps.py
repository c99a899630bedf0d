from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from allauth.account.models import EmailAddress

        from accounts import demo
        from fulfil import demo as demo_registry
        from fulfil import onboarding

        demo_registry.register(10, "merchants and users", demo.load)

        onboarding.register(
            onboarding.Step(
                key="profile",
                title="Complete your business profile",
                order=10,
                is_done=lambda m: m.profile_complete,
                url_name="accounts:profile",
            )
        )
        onboarding.register(
            onboarding.Step(
                key="verify_email",
                title="Verify your email address",
                order=20,
                is_done=lambda m: EmailAddress.objects.filter(
                    user__memberships__merchant=m, user__memberships__role="owner", verified=True
                ).exists(),
                url_name="account_email",
            )
        )
        onboarding.register(
            onboarding.Step(
                key="verify_phone",
                title="Verify your phone number",
                order=30,
                is_done=lambda m: m.memberships.filter(role="owner", user__phone_verified=True).exists(),
                url_name="accounts:phone",
            )
        )
