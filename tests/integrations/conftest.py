from tests.channels.conftest import fake_shopify, shopify_conn, shopify_secret  # noqa: F401 - shared fixtures
