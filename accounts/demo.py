from allauth.account.models import EmailAddress

from accounts.models import Membership, Merchant, User
from fulfil.demo import DEMO_PASSWORD

DEMO_MERCHANTS = [
    {
        "name": "Acme Outdoor",
        "slug": "acme-outdoor",
        "owner": "owner@acme.example",
        "contact_name": "Ada Acme",
        "street1": "100 Trail Way",
        "city": "Denver",
        "state": "CO",
        "postal_code": "80202",
    },
    {
        "name": "Globex Beauty",
        "slug": "globex-beauty",
        "owner": "owner@globex.example",
        "contact_name": "Gina Globex",
        "street1": "9 Glow Street",
        "city": "Brooklyn",
        "state": "NY",
        "postal_code": "11201",
    },
]
OPERATOR_USERS = [
    ("associate@fulfil.example", User.OperatorRole.ASSOCIATE, False, ["WH1"]),
    ("manager@fulfil.example", User.OperatorRole.MANAGER, False, ["WH1"]),
    ("admin@fulfil.example", User.OperatorRole.OPERATOR_ADMIN, True, []),
]


def _user(email: str, **extra) -> User:
    user, created = User.objects.get_or_create(email=email, defaults=extra)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


def load() -> None:
    for spec in DEMO_MERCHANTS:
        spec = dict(spec)
        owner = _user(spec.pop("owner"), first_name=spec["contact_name"].split()[0])
        merchant, _ = Merchant.objects.get_or_create(
            slug=spec["slug"], defaults={**spec, "contact_email": owner.email}
        )
        Membership.objects.get_or_create(
            user=owner, merchant=merchant, defaults={"role": Membership.Role.OWNER}
        )
    for email, role, superuser, warehouses in OPERATOR_USERS:
        _user(email, operator_role=role, is_staff=True, is_superuser=superuser, warehouse_codes=warehouses)
