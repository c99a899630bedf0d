"""The offline estimate the billing calculator calls (no network, no database)."""

from decimal import Decimal

from integrations.carriers.ratecard import rate_estimate, zone


def test_zone_from_zip_prefixes():
    assert zone("90277", "90210") == 1
    assert zone("90277", "10001") == 8
    assert zone("bad", "10001") == 5


def test_estimate_cheapest_first_with_dimensional_weight():
    rows = rate_estimate(
        weight_g=400,
        length_mm=150,
        width_mm=100,
        height_mm=80,
        from_postal_code="90277",
        to_postal_code="94107",
    )
    assert [(r["carrier"], r["service"], r["price"]) for r in rows] == [
        ("usps", "GroundAdvantage", Decimal("5.40")),
        ("fedex", "FEDEX_GROUND", Decimal("8.95")),
        ("ups", "Ground", Decimal("9.21")),
    ]
    assert rows[0]["billable_lb"] == 1
    boxy = rate_estimate(
        weight_g=400,
        length_mm=300,
        width_mm=200,
        height_mm=150,
        from_postal_code="90277",
        to_postal_code="94107",
    )
    assert boxy[0]["billable_lb"] == 4  # 549 cubic inches / 139
    assert boxy[0]["price"] == Decimal("7.05")
    heavy = rate_estimate(
        weight_g=5000, from_postal_code="90277", to_postal_code="10001", service_level="overnight"
    )
    assert heavy[0]["zone"] == 8
    assert heavy[0]["billable_lb"] == 12
    assert heavy[0]["price"] == Decimal("30.45") + Decimal("2.10") * 11 + Decimal("1.20") * 7


def test_international_has_no_offline_estimate():
    assert (
        rate_estimate(weight_g=500, from_postal_code="90277", to_postal_code="75001", to_country="FR") == []
    )
