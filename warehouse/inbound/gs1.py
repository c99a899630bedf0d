"""Barcode scan parsing for every scan screen (receiving, putaway, counts, returns, pick/pack).

``parse_scan(text) -> Scan`` understands, in this order:

1. Our own labels, ``PREFIX:value`` (prefix case-insensitive, see ``LABEL_PREFIXES``)::

       LOC:A-01-02-03-04   a location            TOTE:T0042   a tote
       CART:C7             a pick cart           ASN:123      an inbound shipment (ASN)
       PO:PO-1001          a purchase order      RMA:R-88     a return
       COUNT:17            a cycle-count task    PUT:9        a putaway task
       SKU:TSHIRT-RED-M    a product by SKU      DOCK:D1      a dock door

2. GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar), with or without the
   AIM symbology identifier (``]C1``, ``]d2``, ``]Q3``, ``]e0``), variable-length fields ended by
   FNC1 sent as ASCII GS (``\\x1d``; the literal ``<GS>``/``{GS}``/``␝`` typed by some wedges also
   work), and the parenthesised human-readable form ``(01)09506000134352(17)201225(10)ABC123``.
   AIs: 00 SSCC, 01/02 GTIN, 10 lot, 11/12/13/15/16/17 dates (YYMMDD; day ``00`` means the last day
   of the month), 21 serial, 30/37 count, 310n-369n measures, 400/401 order refs and a few more.

3. Plain retail barcodes: UPC-A (12), EAN-13 (13), EAN-8 (8), GTIN-14 (14 digits), and an 18-digit
   SSCC — check digit validated; a bad check digit raises ``ScanError`` with a clear message.

Anything else comes back as ``kind="text"`` (a typed SKU or location code) for the screen to look up.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

GS = "\x1d"

# Own label prefixes → Scan.kind
LABEL_PREFIXES: dict[str, str] = {
    "LOC": "location",
    "TOTE": "tote",
    "CART": "cart",
    "ASN": "asn",
    "PO": "po",
    "RMA": "rma",
    "COUNT": "count",
    "PUT": "putaway",
    "SKU": "sku",
    "DOCK": "dock",
}

GS1_SYMBOLOGIES = {"]C1", "]d2", "]Q3", "]e0", "]J1"}
RETAIL_SYMBOLOGIES = {"]E0", "]E4", "]E3", "]X0", "]A0", "]C0"}

DATE_AIS = {
    "11": "production_date",
    "12": "due_date",
    "13": "packaging_date",
    "15": "best_before",
    "16": "sell_by",
    "17": "expiry",
}


class ScanError(ValueError):
    """A scan that cannot be right (bad check digit, malformed GS1 data). The message is for the user."""


@dataclass(frozen=True)
class AISpec:
    name: str
    fixed: int | None = None  # data length when fixed
    max_len: int = 0  # max data length when variable
    numeric: bool = False


def _ai_table() -> dict[str, AISpec]:
    t: dict[str, AISpec] = {
        "00": AISpec("sscc", fixed=18, numeric=True),
        "01": AISpec("gtin", fixed=14, numeric=True),
        "02": AISpec("content_gtin", fixed=14, numeric=True),
        "10": AISpec("lot", max_len=20),
        "20": AISpec("variant", fixed=2, numeric=True),
        "21": AISpec("serial", max_len=20),
        "22": AISpec("cpv", max_len=20),
        "30": AISpec("count", max_len=8, numeric=True),
        "37": AISpec("count", max_len=8, numeric=True),
        "90": AISpec("internal_90", max_len=30),
        "240": AISpec("additional_id", max_len=30),
        "241": AISpec("customer_part_no", max_len=30),
        "250": AISpec("secondary_serial", max_len=30),
        "251": AISpec("ref_to_source", max_len=30),
        "400": AISpec("order_number", max_len=30),
        "401": AISpec("consignment", max_len=30),
        "402": AISpec("shipment_id", fixed=17, numeric=True),
        "403": AISpec("routing_code", max_len=30),
        "410": AISpec("ship_to_gln", fixed=13, numeric=True),
        "411": AISpec("bill_to_gln", fixed=13, numeric=True),
        "412": AISpec("purchased_from_gln", fixed=13, numeric=True),
        "413": AISpec("ship_for_gln", fixed=13, numeric=True),
        "414": AISpec("location_gln", fixed=13, numeric=True),
        "420": AISpec("ship_to_postal", max_len=20),
        "422": AISpec("origin_country", fixed=3, numeric=True),
        "7003": AISpec("expiry_time", fixed=10, numeric=True),
    }
    for ai, name in DATE_AIS.items():
        t[ai] = AISpec(name, fixed=6, numeric=True)
    for i in range(91, 100):
        t[str(i)] = AISpec(f"internal_{i}", max_len=90)
    # 310n..369n: trade/logistic measures, 6 digits with n implied decimals
    for p in range(310, 370):
        for n in range(10):
            t[f"{p}{n}"] = AISpec(f"measure_{p}", fixed=6, numeric=True)
    return t


AIS = _ai_table()


@dataclass(frozen=True)
class Scan:
    raw: str
    kind: str  # item | carton | text | one of LABEL_PREFIXES' values
    symbology: str = ""  # gs1 | retail | label | text
    gtin: str = ""  # always 14 digits when present
    sscc: str = ""
    lot: str = ""
    serial: str = ""
    expiry: dt.date | None = None
    best_before: dt.date | None = None
    production_date: dt.date | None = None
    count: int | None = None
    value: str = ""  # own label payload, or the text as typed
    ais: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_item(self) -> bool:
        return bool(self.gtin)

    def barcode_forms(self) -> list[str]:
        """The ways a product's stored ``barcode`` may spell this GTIN (14/13/12/8 digits)."""
        if not self.gtin:
            return [self.value] if self.value else []
        return gtin_forms(self.gtin)


# ----------------------------------------------------------------------------- check digits


def gtin_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for ``body`` (the digits without their check digit)."""
    if not body.isdigit():
        raise ScanError(f"not digits: {body!r}")
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def is_valid_check_digit(code: str) -> bool:
    return len(code) >= 2 and code.isdigit() and gtin_check_digit(code[:-1]) == code[-1]


def gtin_forms(gtin14: str) -> list[str]:
    """GTIN-14 plus the shorter spellings it is equivalent to (EAN-13, UPC-A, EAN-8)."""
    forms = [gtin14]
    for n in (13, 12, 8):
        if gtin14[: 14 - n].strip("0") == "":
            forms.append(gtin14[14 - n :])
    return forms


def normalise_gtin(code: str) -> str:
    """Validate an 8/12/13/14-digit GTIN and return it as 14 digits; ScanError otherwise."""
    code = code.strip()
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        raise ScanError(f"{code!r} is not a GTIN (8, 12, 13 or 14 digits expected)")
    if not is_valid_check_digit(code):
        expected = gtin_check_digit(code[:-1])
        raise ScanError(f"Bad check digit in barcode {code}: expected {expected}, got {code[-1]} — rescan")
    return code.zfill(14)


# ----------------------------------------------------------------------------- dates


def parse_gs1_date(yymmdd: str, *, today: dt.date | None = None) -> dt.date:
    """YYMMDD per GS1 General Specifications §7.12 (sliding century; day 00 = last day of month)."""
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        raise ScanError(f"bad GS1 date {yymmdd!r} (YYMMDD expected)")
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    today = today or dt.datetime.now(dt.UTC).date()
    cur = today.year
    year = (cur // 100) * 100 + yy
    diff = year - cur
    if diff > 50:
        year -= 100
    elif diff < -49:
        year += 100
    if not 1 <= mm <= 12:
        raise ScanError(f"bad GS1 date {yymmdd!r}: month {mm}")
    last = calendar.monthrange(year, mm)[1]
    if dd == 0:
        dd = last
    if dd > last:
        raise ScanError(f"bad GS1 date {yymmdd!r}: day {dd}")
    return dt.date(year, mm, dd)


def format_gs1_date(d: dt.date) -> str:
    return d.strftime("%y%m%d")


# ----------------------------------------------------------------------------- element strings


def _lookup_ai(data: str, pos: int) -> tuple[str, AISpec]:
    for n in (2, 3, 4):
        ai = data[pos : pos + n]
        if ai in AIS:
            return ai, AIS[ai]
    raise ScanError(f"Unknown GS1 application identifier at {data[pos : pos + 4]!r}")


def _check_value(ai: str, spec: AISpec, value: str) -> None:
    if spec.fixed is not None and len(value) != spec.fixed:
        raise ScanError(f"GS1 AI ({ai}) needs {spec.fixed} characters, got {len(value)}")
    if spec.fixed is None and not 1 <= len(value) <= spec.max_len:
        raise ScanError(f"GS1 AI ({ai}) needs 1–{spec.max_len} characters, got {len(value)}")
    if spec.numeric and not value.isdigit():
        raise ScanError(f"GS1 AI ({ai}) must be numeric, got {value!r}")
    if ai in ("00", "01", "02") and not is_valid_check_digit(value):
        raise ScanError(
            f"Bad check digit in ({ai}) {value}: expected {gtin_check_digit(value[:-1])} — rescan"
        )


def parse_element_string(data: str) -> list[tuple[str, str]]:
    """Split a raw GS1 element string (FNC1 as GS) into ``[(ai, value), ...]``."""
    data = data.lstrip(GS)
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(data):
        if data[pos] == GS:
            pos += 1
            continue
        ai, spec = _lookup_ai(data, pos)
        pos += len(ai)
        if spec.fixed is not None:
            value = data[pos : pos + spec.fixed]
            pos += spec.fixed
            if pos < len(data) and data[pos] == GS:  # tolerated: FNC1 after a fixed field
                pos += 1
        else:
            end = data.find(GS, pos)
            if end == -1:
                end = len(data)
            value = data[pos:end]
            if len(value) > spec.max_len:
                raise ScanError(
                    f"GS1 AI ({ai}) is longer than {spec.max_len} characters — is a GS separator missing?"
                )
            pos = end + 1
        _check_value(ai, spec, value)
        out.append((ai, value))
    if not out:
        raise ScanError("Empty GS1 scan")
    return out


_HRI = re.compile(r"\((\d{2,4})\)([^()]*)")


def parse_hri(text: str) -> list[tuple[str, str]]:
    """Parse the human-readable ``(01)...(10)...`` form."""
    pairs = _HRI.findall(text)
    if not pairs or "".join(f"({a}){v}" for a, v in pairs) != text:
        raise ScanError(f"Cannot read {text!r} as GS1 (AI)value pairs")
    out = []
    for ai, value in pairs:
        if ai not in AIS:
            raise ScanError(f"Unknown GS1 application identifier ({ai})")
        _check_value(ai, AIS[ai], value)
        out.append((ai, value))
    return out


def _scan_from_pairs(raw: str, pairs: Iterable[tuple[str, str]]) -> Scan:
    ais: dict[str, str] = {}
    for ai, value in pairs:
        if ai in ais and ais[ai] != value:
            raise ScanError(f"GS1 AI ({ai}) appears twice with different values")
        ais[ai] = value
    dates = {DATE_AIS[ai]: parse_gs1_date(v) for ai, v in ais.items() if ai in DATE_AIS}
    count_raw = ais.get("30") or ais.get("37")
    gtin = ais.get("01") or ais.get("02", "")
    return Scan(
        raw=raw,
        kind="item" if gtin else ("carton" if "00" in ais else "text"),
        symbology="gs1",
        gtin=gtin,
        sscc=ais.get("00", ""),
        lot=ais.get("10", ""),
        serial=ais.get("21", ""),
        expiry=dates.get("expiry"),
        best_before=dates.get("best_before"),
        production_date=dates.get("production_date"),
        count=int(count_raw) if count_raw else None,
        value=gtin or ais.get("00", ""),
        ais=ais,
    )


# ----------------------------------------------------------------------------- entry point

_FNC1_SPELLINGS = ("<GS>", "{GS}", "\u241d", "<FNC1>", "{FNC1}")
_LABEL = re.compile(r"^([A-Za-z]+):(.+)$")


def parse_scan(text: str) -> Scan:
    """Parse one scan (or typed entry). Raises ScanError for data that is certainly wrong."""
    raw = text
    s = text.strip("\r\n\t ")
    for spelling in _FNC1_SPELLINGS:
        s = s.replace(spelling, GS)
    if not s.strip(GS):
        raise ScanError("Empty scan")

    symbology = ""
    if len(s) >= 3 and s[0] == "]":
        symbology, s = s[:3], s[3:]

    m = _LABEL.match(s)
    if m and not symbology and m.group(1).upper() in LABEL_PREFIXES:
        kind = LABEL_PREFIXES[m.group(1).upper()]
        return Scan(raw=raw, kind=kind, symbology="label", value=m.group(2).strip())

    if s.startswith("("):
        return _scan_from_pairs(raw, parse_hri(s))

    if symbology in GS1_SYMBOLOGIES or s.startswith(GS) or GS in s:
        return _scan_from_pairs(raw, parse_element_string(s))

    if s.isdigit():
        if len(s) in (8, 12, 13, 14):
            gtin = normalise_gtin(s)
            return Scan(raw=raw, kind="item", symbology="retail", gtin=gtin, value=s)
        if len(s) == 18:
            if not is_valid_check_digit(s):
                raise ScanError(f"Bad check digit in SSCC {s}: expected {gtin_check_digit(s[:-1])} — rescan")
            return Scan(raw=raw, kind="carton", symbology="retail", sscc=s, value=s, ais={"00": s})
        # An element string from a scanner without symbology identifiers (e.g. 01…17…10…)
        if len(s) > 14 and s[:2] in ("00", "01", "02"):
            return _scan_from_pairs(raw, parse_element_string(s))
        raise ScanError(f"{s!r} is not a known barcode length ({len(s)} digits)")

    if symbology not in ("", *RETAIL_SYMBOLOGIES) and s[:2] in ("00", "01", "02"):
        return _scan_from_pairs(raw, parse_element_string(s))
    if len(s) > 16 and s[:2] in ("01", "02") and s[2:16].isdigit():
        return _scan_from_pairs(raw, parse_element_string(s))
    return Scan(raw=raw, kind="text", symbology="text", value=s.strip(GS))


# ----------------------------------------------------------------------------- encoding (labels, tests)


def encode_element_string(pairs: Iterable[tuple[str, str]], *, prefix: str = "]C1") -> str:
    """Encode ``[(ai, value)]`` as a scanner would send it (FNC1 as GS after variable fields)."""
    items = list(pairs)
    parts: list[str] = []
    for i, (ai, value) in enumerate(items):
        spec = AIS[ai]
        _check_value(ai, spec, value)
        parts.append(ai + value)
        if spec.fixed is None and i < len(items) - 1:
            parts.append(GS)
    return prefix + "".join(parts)


def encode_hri(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f"({ai}){value}" for ai, value in pairs)


def make_gtin(body: str) -> str:
    """Append the check digit to ``body`` (7, 11, 12 or 13 digits)."""
    return body + gtin_check_digit(body)


def label(kind_prefix: str, value: str) -> str:
    """Our own label text, e.g. ``label("LOC", "A-01-01-1-A")`` → ``LOC:A-01-01-1-A``."""
    prefix = kind_prefix.upper()
    if prefix not in LABEL_PREFIXES:
        raise ValueError(f"unknown label prefix {kind_prefix!r}")
    return f"{prefix}:{value}"
