from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Membership, User


class Command(BaseCommand):
    help = "Create an API key for a user. Prints the key as the last line."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--merchant", help="merchant slug, when the user belongs to several")
        parser.add_argument("--name", default="CLI key")

    def handle(self, email, merchant=None, name="CLI key", **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with email {email}.")
        memberships = Membership.objects.filter(user=user).select_related("merchant")
        if merchant:
            memberships = memberships.filter(merchant__slug=merchant)
        membership = memberships.order_by("pk").first()
        if membership is None and not user.is_operator:
            raise CommandError(f"{email} belongs to no merchant{' ' + merchant if merchant else ''}.")
        _, raw = services.api_key_create(user=user, membership=membership, name=name)
        scope = membership.merchant.name if membership else f"operator ({user.get_operator_role_display()})"
        self.stdout.write(f"API key for {email} acting for {scope}:")
        self.stdout.write(raw)
