"""GS1 / retail / own-label scan parsing."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.inbound import gs1
from warehouse.inbound.gs1 import GS, ScanError, parse_scan

GTIN = "09506000134352"  # GS1's own example GTIN-14


def test_gs1_128_with_symbology_prefix_and_gs_separators():
    scan = parse_scan(f"]C101{GTIN}17201225" + "10ABC123" + GS + "21S-9")
    assert scan.kind == "item"
    assert scan.symbology == "gs1"
    assert scan.gtin == GTIN
    assert scan.expiry == dt.date(2020, 12, 25)
    assert scan.lot == "ABC123"
    assert scan.serial == "S-9"


def test_datamatrix_prefix_and_leading_fnc1():
    scan = parse_scan(f"]d2{GS}01{GTIN}10LOT7{GS}17260300")
    assert scan.gtin == GTIN
    assert scan.lot == "LOT7"
    assert scan.expiry == dt.date(2026, 3, 31)  # day 00 = last day of the month


def test_qr_prefix_and_typed_gs_spelling():
    scan = parse_scan(f"]Q301{GTIN}10L1<GS>3712")
    assert scan.lot == "L1"
    assert scan.count == 12


def test_human_readable_form():
    scan = parse_scan(f"(01){GTIN}(17)280229(10)ABC-1(30)5")
    assert scan.gtin == GTIN
    assert scan.expiry == dt.date(2028, 2, 29)
    assert scan.lot == "ABC-1"
    assert scan.count == 5


def test_other_dates():
    scan = parse_scan(f"(01){GTIN}(11)240101(13)240102(15)250600")
    assert scan.production_date == dt.date(2024, 1, 1)
    assert scan.ais["13"] == "240102"
    assert scan.best_before == dt.date(2025, 6, 30)


def test_sscc_carton_label():
    sscc = gs1.make_gtin("00614141123456789")
    scan = parse_scan(f"]C100{sscc}")
    assert scan.kind == "carton"
    assert scan.sscc == sscc
    assert parse_scan(sscc).kind == "carton"


def test_element_string_without_symbology_identifier():
    scan = parse_scan(f"01{GTIN}17301231" + "10X")
    assert (scan.gtin, scan.lot, scan.expiry) == (GTIN, "X", dt.date(2030, 12, 31))


@pytest.mark.parametrize(
    ("code", "gtin"),
    [
        ("036000291452", "00036000291452"),  # UPC-A
        ("4006381333931", "04006381333931"),  # EAN-13
        ("96385074", "00000096385074"),  # EAN-8
        (GTIN, GTIN),  # GTIN-14
    ],
)
def test_retail_barcodes(code, gtin):
    scan = parse_scan(code)
    assert scan.kind == "item"
    assert scan.gtin == gtin
    assert code in scan.barcode_forms()


@pytest.mark.parametrize("code", ["036000291453", "4006381333932", "96385075", "09506000134353"])
def test_bad_check_digit_is_a_clear_error(code):
    with pytest.raises(ScanError, match="Bad check digit"):
        parse_scan(code)


def test_bad_check_digit_inside_gs1():
    with pytest.raises(ScanError, match="Bad check digit"):
        parse_scan("]C10109506000134353")


def test_unknown_ai_and_bad_date():
    with pytest.raises(ScanError, match="Unknown GS1"):
        parse_scan(f"]C101{GTIN}" + "8899x")
    with pytest.raises(ScanError, match="month"):
        parse_scan(f"(01){GTIN}(17)201325")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("LOC:A-01-02-3-B", "location", "A-01-02-3-B"),
        ("loc:R-1", "location", "R-1"),
        ("TOTE:T0042", "tote", "T0042"),
        ("ASN:17", "asn", "17"),
        ("RMA:R-8", "rma", "R-8"),
        ("SKU:TEE-RED-M", "sku", "TEE-RED-M"),
        ("COUNT:3", "count", "3"),
        ("TEE-RED-M", "text", "TEE-RED-M"),
    ],
)
def test_own_labels_and_text(text, kind, value):
    scan = parse_scan(text + "\r\n")
    assert (scan.kind, scan.value) == (kind, value)


def test_empty_scan():
    with pytest.raises(ScanError):
        parse_scan("  \n")


def test_century_window():
    today = dt.date(2026, 6, 1)
    assert gs1.parse_gs1_date("991231", today=today) == dt.date(1999, 12, 31)
    assert gs1.parse_gs1_date("760101", today=today) == dt.date(2076, 1, 1)
    assert gs1.parse_gs1_date("770101", today=today) == dt.date(1977, 1, 1)


# ----------------------------------------------------------------------------- properties

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
lot_chars = st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./"),
    min_size=1,
    max_size=20,
)
bodies = st.text(alphabet="0123456789", min_size=13, max_size=13)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31))


@given(body=st.text(alphabet="0123456789", min_size=7, max_size=13))
def test_check_digit_round_trip_and_single_digit_errors_caught(body):
    code = gs1.make_gtin(body)
    assert gs1.is_valid_check_digit(code)
    wrong = str((int(code[-1]) + 1) % 10)
    assert not gs1.is_valid_check_digit(code[:-1] + wrong)


@given(
    body=bodies,
    lot=lot_chars,
    serial=lot_chars,
    expiry=dates,
    prefix=st.sampled_from(["]C1", "]d2", "]Q3", ""]),
)
def test_encode_parse_round_trip(body, lot, serial, expiry, prefix):
    gtin = gs1.make_gtin(body)
    pairs = [("01", gtin), ("10", lot), ("17", gs1.format_gs1_date(expiry)), ("21", serial)]
    for text in (gs1.encode_element_string(pairs, prefix=prefix), gs1.encode_hri(pairs)):
        scan = parse_scan(text)
        assert scan.gtin == gtin
        assert scan.lot == lot
        assert scan.serial == serial
        assert scan.expiry == expiry


@given(
    body=st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    )
)
def test_plain_gtins_normalise_to_14_digits(body):
    code = gs1.make_gtin(body)
    scan = parse_scan(code)
    assert scan.gtin == code.zfill(14)
    assert code in scan.barcode_forms()
