from accounts import services
from tests.isolation import Case


def _api_key(merchant):
    membership = merchant.memberships.first()
    key, _ = services.api_key_create(
        user=membership.user, membership=membership, name=f"isolation-{merchant.slug}"
    )
    return key


CASES = [
    Case(
        name="api key",
        make=_api_key,
        marker=lambda key: key.name,
        html_lists=["/app/account/api-keys/"],
        api_lists=["/api/v1/api-keys/"],
        api_writes=[("post", lambda key: f"/app/account/api-keys/{key.pk}/revoke/", {})],
    ),
]
