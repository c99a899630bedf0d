"""Rate shopping against the fake EasyPost through the real client: parallel accounts, rules, restrictions,
retries, failover, the circuit breaker, and the analytics log."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from fulfil.models import AuditEntry
from integrations.carriers import breaker, services
from integrations.carriers.base import Address, CustomsItem, Parcel, ShipOptions
from integrations.carriers.exceptions import NoRateAvailable
from integrations.carriers.models import CarrierAccount, RateQuote, ShippingRule

from .conftest import BOX, CUSTOMER, WAREHOUSE, make_account

pytestmark = pytest.mark.django_db


def shop(merchant, **kw):
    kw.setdefault("parcel", BOX)
    kw.setdefault("to_address", CUSTOMER)
    kw.setdefault("from_warehouse", WAREHOUSE)
    return services.rates_shop(merchant=merchant, **kw)


def test_cheapest_standard_rate_across_all_accounts(merchant_a, four_accounts, fake_easypost):
    result = shop(merchant_a)

    assert result.rule == "cheapest"
    assert result.chosen.rate.carrier == "usps"
    assert result.chosen.rate.service == "GroundAdvantage"
    assert result.chosen.rate.amount == Decimal("6.07")
    assert result.reason == "cheapest: USPS GroundAdvantage 6.07 USD, 3 day(s)"
    # one request per domestic account (DHL Express too: it answers with no domestic rates)
    assert len(fake_easypost.calls("POST", "/v2/shipments")) == 4
    assert [(r.rate.carrier, r.rate.service, str(r.total)) for r in result.ranked[:3]] == [
        ("usps", "GroundAdvantage", "6.07"),
        ("usps", "Priority", "7.42"),
        ("fedex", "FEDEX_GROUND", "8.95"),
    ]
    assert "DHL Express returned no rates" in result.errors


def test_expedited_default_is_cheapest_within_two_days(merchant_a, four_accounts):
    result = shop(merchant_a, service_level="expedited")
    assert (result.chosen.rate.carrier, result.chosen.rate.service) == ("usps", "Priority")
    assert result.reason.startswith("cheapest within 2 day(s): USPS Priority 7.42")


def test_merchant_rules_fastest_and_preferred(merchant_a, four_accounts):
    services.shipping_rule_set(merchant=merchant_a, service_level="standard", rule="fastest")
    fastest = shop(merchant_a)
    # 1 day: USPS Express (not guaranteed) vs UPS NextDayAir / FedEx overnight (guaranteed) → guaranteed first
    assert fastest.chosen.rate.delivery_days == 1
    assert fastest.chosen.rate.guaranteed is True
    assert (fastest.chosen.rate.carrier, fastest.chosen.rate.service) == ("fedex", "STANDARD_OVERNIGHT")

    services.shipping_rule_set(
        merchant=merchant_a, service_level="standard", rule="preferred", preferred_carrier="ups"
    )
    preferred = shop(merchant_a)
    assert (preferred.chosen.rate.carrier, preferred.chosen.rate.service) == ("ups", "Ground")
    assert preferred.reason.startswith("preferred carrier UPS: UPS Ground 9.21")
    assert ShippingRule.objects.for_merchant(merchant_a).count() == 1


def test_markup_changes_the_ranking(merchant_a, four_accounts):
    usps = four_accounts["usps"]
    services.carrier_account_update(account=usps, markup_percent=Decimal("100"), markup_flat=Decimal("1.00"))
    result = shop(merchant_a)
    # USPS GroundAdvantage 6.07 → 13.14 with markup; FedEx Ground 8.95 wins
    assert (result.chosen.rate.carrier, str(result.chosen.price)) == ("fedex", "8.95")
    usps_ground = next(r for r in result.ranked if r.rate.service == "GroundAdvantage")
    assert usps_ground.price == Decimal("13.14")


def test_enabled_services_limit_what_an_account_offers(merchant_a, four_accounts):
    services.carrier_account_update(account=four_accounts["usps"], enabled_services=["Express"])
    result = shop(merchant_a)
    assert {r.rate.service for r in result.ranked if r.rate.carrier == "usps"} == {"Express"}
    assert result.chosen.rate.service == "FEDEX_GROUND"


def test_po_box_and_apo_ship_usps_only(merchant_a, four_accounts, fake_easypost):
    po_box = Address(**{**CUSTOMER.as_dict(), "street1": "PO Box 123", "street2": ""})
    result = shop(merchant_a, to_address=po_box)
    assert {r.rate.carrier for r in result.ranked} == {"usps"}
    assert "UPS skipped: UPS does not deliver to PO boxes" in result.errors
    # the other carriers were not even asked
    assert len(fake_easypost.calls("POST", "/v2/shipments")) == 1

    apo = Address(
        name="Sgt Pepper", street1="Unit 2050 Box 4190", city="APO", state="AP", postal_code="96278"
    )
    assert {r.rate.carrier for r in shop(merchant_a, to_address=apo).ranked} == {"usps"}


def test_hazmat_and_lithium_only_on_services_that_accept_them(merchant_a, four_accounts):
    hazmat = shop(
        merchant_a, parcel=Parcel(weight_g=437, length_mm=254, width_mm=203, height_mm=102, hazmat=True)
    )
    assert {(r.rate.carrier, r.rate.service) for r in hazmat.ranked} == {
        ("usps", "GroundAdvantage"),
        ("ups", "Ground"),
        ("fedex", "FEDEX_GROUND"),
    }
    excluded = {r.rate.service: r.excluded_reason for r in hazmat.excluded}
    assert excluded["Express"] == "USPS Express does not accept hazmat"

    lithium = shop(
        merchant_a,
        parcel=Parcel(weight_g=437, length_mm=254, width_mm=203, height_mm=102, lithium=True),
        service_level="overnight",
    )
    assert all(r.rate.service != "Express" for r in lithium.ranked)
    assert (lithium.chosen.rate.carrier, lithium.chosen.rate.service) == ("fedex", "STANDARD_OVERNIGHT")


def test_weight_and_dimension_limits_per_service(merchant_a, four_accounts):
    heavy = Parcel(weight_g=40_000, length_mm=600, width_mm=400, height_mm=400)  # 88 lb: over USPS's 70 lb
    result = shop(merchant_a, parcel=heavy)
    assert {r.rate.carrier for r in result.ranked} == {"ups", "fedex"}
    assert any("weight limit 31751 g exceeded" in r.excluded_reason for r in result.excluded)

    too_long = Parcel(weight_g=1000, length_mm=3100, width_mm=100, height_mm=100)
    with pytest.raises(NoRateAvailable) as exc:
        shop(merchant_a, parcel=too_long)
    assert str(exc.value) == (
        "no rate available: DHL Express returned no rates, "
        "USPS rejected: USPS GroundAdvantage length limit 2743 mm exceeded, "
        "UPS rejected: UPS Ground length limit 2743 mm exceeded, "
        "FedEx rejected: FedEx FEDEX_GROUND length limit 2743 mm exceeded"
    )


def test_international_needs_customs_and_gets_international_services(
    merchant_a, four_accounts, fake_easypost
):
    paris = Address(name="Anne", street1="5 Rue de Rivoli", city="Paris", postal_code="75001", country="FR")
    with pytest.raises(NoRateAvailable) as exc:
        shop(merchant_a, to_address=paris)
    assert "international parcel without customs information (HS code, origin, value)" in str(exc.value)
    assert fake_easypost.calls("POST", "/v2/shipments") == []

    parcel = Parcel(
        weight_g=437,
        length_mm=254,
        width_mm=203,
        height_mm=102,
        customs_items=(CustomsItem("T-shirt", 2, 400, Decimal("23.25"), "610910", "US"),),
    )
    result = shop(merchant_a, to_address=paris, parcel=parcel)
    assert result.chosen.rate.service == "PriorityMailInternational"
    sent = fake_easypost.calls("POST", "/v2/shipments")[0][3]["shipment"]["customs_info"]["customs_items"][0]
    assert sent == {
        "description": "T-shirt",
        "quantity": 2,
        "weight": 14.1,
        "value": "23.25",
        "currency": "USD",
        "hs_tariff_number": "610910",
        "origin_country": "US",
    }


def test_signature_and_insurance_cost_are_in_the_total(merchant_a, four_accounts, fake_easypost):
    result = shop(
        merchant_a, options=ShipOptions(signature="adult_signature", insurance_amount=Decimal("250"))
    )
    chosen = result.chosen
    assert chosen.rate.amount == Decimal("13.32")  # 6.07 + 7.25 adult signature
    assert chosen.total == Decimal("15.82")  # + 1 % of 250 insurance
    sent = fake_easypost.calls("POST", "/v2/shipments")[0][3]["shipment"]["options"]
    assert sent["delivery_confirmation"] == "ADULT_SIGNATURE"


def test_accounts_are_queried_concurrently(merchant_a, four_accounts, fake_easypost):
    fake_easypost.latency = 0.3
    started = time.monotonic()
    shop(merchant_a)
    assert time.monotonic() - started < 0.9  # four accounts at 0.3 s each, one after another, would be 1.2 s


def test_retry_then_success_on_5xx_429_and_malformed(merchant_a, fake_easypost):
    account = make_account(fake_easypost, carrier="ups")
    fake_easypost.fail(account.api_key, "503", "429")
    assert shop(merchant_a).chosen.rate.carrier == "ups"
    assert len(fake_easypost.calls("POST", "/v2/shipments", api_key=account.api_key)) == 3

    fake_easypost.fail(account.api_key, "malformed")
    assert shop(merchant_a).chosen.rate.carrier == "ups"


def test_failover_to_the_next_carrier_and_a_clear_message_when_none(merchant_a, fake_easypost):
    fedex = make_account(fake_easypost, carrier="fedex", timeout_seconds=Decimal("0.30"))
    ups = make_account(fake_easypost, carrier="ups")
    usps = make_account(fake_easypost, carrier="usps")
    fake_easypost.timeout_sleep = 0.6
    fake_easypost.sticky[fedex.api_key] = "timeout"
    fake_easypost.sticky[ups.api_key] = "422"
    result = shop(merchant_a)
    assert result.chosen.rate.carrier == "usps"
    assert sorted(result.errors) == ["FedEx timeout", "UPS rejected dimensions"]

    fake_easypost.sticky[usps.api_key] = "500"
    with pytest.raises(NoRateAvailable) as exc:
        shop(merchant_a)
    assert str(exc.value) == "no rate available: FedEx timeout, UPS rejected dimensions, USPS error 500" or (
        sorted(str(exc.value).removeprefix("no rate available: ").split(", "))
        == ["FedEx paused after repeated failures", "UPS rejected dimensions", "USPS error 500"]
    )


def test_circuit_breaker_opens_after_repeated_failures_and_skips_the_account(merchant_a, fake_easypost):
    bad = make_account(fake_easypost, carrier="fedex")
    make_account(fake_easypost, carrier="usps")
    fake_easypost.sticky[bad.api_key] = "503"
    for _ in range(3):
        shop(merchant_a)
    assert breaker.state(bad.pk) == "open"
    assert CarrierAccount.objects.get(pk=bad.pk).circuit_state == "open"
    calls_before = len(fake_easypost.calls(api_key=bad.api_key))

    started = time.monotonic()
    result = shop(merchant_a)
    assert time.monotonic() - started < 0.5
    assert "FedEx paused after repeated failures" in result.errors
    assert len(fake_easypost.calls(api_key=bad.api_key)) == calls_before  # not called at all

    # after the cool-down one trial call goes through; success closes the breaker
    del fake_easypost.sticky[bad.api_key]
    from django.core.cache import cache

    cache.set(f"carriers:breaker:{bad.pk}:open_until", time.time() - 1)
    assert breaker.state(bad.pk) == "half_open"
    assert any(r.rate.carrier == "fedex" for r in shop(merchant_a).ranked)
    assert breaker.state(bad.pk) == "closed"


def test_quotes_are_logged_for_analytics(merchant_a, four_accounts):
    result = shop(merchant_a)
    quotes = RateQuote.objects.for_merchant(merchant_a).filter(shop_id=result.shop_id)
    assert quotes.filter(chosen=True).count() == 1
    chosen = quotes.get(chosen=True)
    assert (chosen.carrier, chosen.service, chosen.amount) == ("usps", "GroundAdvantage", Decimal("6.07"))
    assert quotes.filter(error="").count() == len(result.ranked) + len(result.excluded)
    assert quotes.filter(carrier="dhl_express").get().error == "returned no rates"


def test_merchant_byo_account_is_used_only_by_that_merchant(merchant_a, merchant_b, fake_easypost):
    make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    make_account(fake_easypost, carrier="usps")
    assert {r.rate.carrier for r in shop(merchant_a).ranked} == {"ups", "usps"}
    assert {r.rate.carrier for r in shop(merchant_b).ranked} == {"usps"}


def test_disabled_account_is_not_asked(merchant_a, four_accounts, fake_easypost):
    for code in ("ups", "fedex", "dhl_express"):
        services.carrier_account_set_enabled(account=four_accounts[code], enabled=False)
    shop(merchant_a)
    assert len(fake_easypost.calls("POST", "/v2/shipments")) == 1


def test_account_update_audits_only_what_changed_and_never_the_key(four_accounts):
    usps = four_accounts["usps"]
    services.carrier_account_update(
        account=usps, api_key="EZTK-rotated", name=usps.name, markup_percent=Decimal("12.50")
    )
    entry = AuditEntry.objects.get(
        object_type="carriers.CarrierAccount", object_id=str(usps.pk), action="updated"
    )
    assert (entry.before, entry.after) == (
        {"api_key": "(previous)", "markup_percent": "0.00"},
        {"api_key": "(changed)", "markup_percent": "12.50"},
    )
