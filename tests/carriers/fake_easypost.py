"""A fake EasyPost API on 127.0.0.1 for the real ``easypost`` client.

It answers with bodies shaped like the recorded cassettes of EasyPost's own client test suite (the same keys
and value types: Shipment with Rate list, PostageLabel, Tracker, Fee list, ScanForm, Address with
verifications, ``{"error": {...}}`` errors), built from a small rate table written here, so it works without the
vendor fixtures folder. It can also replay a recorded cassette verbatim (``replay(path)``).

Faults are injected per API key: ``fake.fail(key, "500", "timeout", "429", "malformed", "422")`` queues
faults for that key's next requests; ``fake.sticky[key] = "503"`` fails every request; ``fake.latency`` (or
``fake.key_latency[key]``) adds simulated latency.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# carrier -> [(service, base, per_lb, days, guaranteed, international)]
RATE_TABLE = {
    "USPS": [
        ("GroundAdvantage", 6.07, 0.55, 3, False, False),
        ("Priority", 7.42, 0.95, 2, False, False),
        ("Express", 34.15, 2.10, 1, False, False),
        ("PriorityMailInternational", 48.20, 3.10, 6, False, True),
    ],
    "UPS": [
        ("Ground", 9.21, 0.60, 4, False, False),
        ("3DaySelect", 14.10, 0.90, 3, True, False),
        ("2ndDayAir", 19.85, 1.40, 2, True, False),
        ("NextDayAir", 42.30, 2.90, 1, True, False),
        ("Expedited", 61.00, 3.60, 5, False, True),
    ],
    "FedEx": [
        ("FEDEX_GROUND", 8.95, 0.62, 4, False, False),
        ("FEDEX_2_DAY", 18.40, 1.35, 2, True, False),
        ("STANDARD_OVERNIGHT", 39.75, 2.80, 1, True, False),
        ("INTERNATIONAL_ECONOMY", 58.10, 3.40, 5, False, True),
    ],
    "DHLExpress": [("ExpressWorldwide", 52.80, 3.20, 3, True, True)],
}
SIGNATURE_SURCHARGE = {"SIGNATURE": 3.10, "ADULT_SIGNATURE": 7.25}
ALL_CARRIERS = list(RATE_TABLE)
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(data: dict, *, verifications: dict | None = None) -> dict:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "id": _id("adr"),
        "object": "Address",
        "created_at": stamp,
        "updated_at": stamp,
        "name": data.get("name"),
        "company": data.get("company"),
        "street1": data.get("street1"),
        "street2": data.get("street2"),
        "city": data.get("city"),
        "state": data.get("state"),
        "zip": data.get("zip"),
        "country": data.get("country") or "US",
        "phone": data.get("phone"),
        "email": data.get("email"),
        "mode": "test",
        "carrier_facility": None,
        "residential": data.get("residential"),
        "federal_tax_id": None,
        "state_tax_id": None,
        "verifications": verifications or {},
    }


def _parcel(data: dict) -> dict:
    return {
        "id": _id("prcl"),
        "object": "Parcel",
        "created_at": _now(),
        "updated_at": _now(),
        "length": float(data["length"]) if data.get("length") is not None else None,
        "width": float(data["width"]) if data.get("width") is not None else None,
        "height": float(data["height"]) if data.get("height") is not None else None,
        "predefined_package": data.get("predefined_package"),
        "weight": float(data.get("weight") or 0),
        "mode": "test",
    }


class FakeEasyPost:
    def __init__(self) -> None:
        self.shipments: dict[str, dict] = {}
        self.trackers: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str, dict | None]] = []  # (api key, method, path, body)
        self.faults: dict[str, deque] = defaultdict(deque)
        self.sticky: dict[str, str] = {}
        self.key_carriers: dict[str, list[str]] = {}
        self.carrier_accounts: dict[str, str] = {}  # ca_… -> carrier name
        self.latency = 0.0
        self.key_latency: dict[str, float] = {}
        self.timeout_sleep = 1.0
        self.tracker_status: dict[str, str] = {}
        self.address_corrections: dict[str, dict] = {}  # STREET1 upper-case -> corrected fields
        self.replays: dict[tuple[str, str], deque] = defaultdict(deque)
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v2"

    def start(self) -> FakeEasyPost:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def fail(self, api_key: str, *kinds: str) -> None:
        for kind in kinds:
            self.faults[api_key].append(kind)

    def carriers_for(self, api_key: str, *carriers: str) -> None:
        self.key_carriers[api_key] = list(carriers)

    def replay(self, cassette_path) -> None:
        """Serve the recorded responses of a vcrpy cassette, matched by method and path, in order."""
        import yaml

        with open(cassette_path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        for it in data["interactions"]:
            req, resp = it["request"], it["response"]
            path = urlparse(req["uri"]).path
            self.replays[(req["method"].upper(), path)].append(
                (resp["status"]["code"], resp["body"]["string"])
            )

    def calls(self, method: str = "", path_prefix: str = "", api_key: str = "") -> list:
        return [
            r
            for r in self.requests
            if (not method or r[1] == method)
            and r[2].startswith(path_prefix)
            and (not api_key or r[0] == api_key)
        ]

    # --- behaviour -----------------------------------------------------------------------------------------

    def next_fault(self, api_key: str) -> str:
        with self.lock:
            if api_key in self.sticky:
                return self.sticky[api_key]
            queue = self.faults.get(api_key)
            return queue.popleft() if queue else ""

    def rates_for(self, api_key: str, body: dict, shipment_id: str) -> list[dict]:
        parcel = body.get("parcel") or {}
        to = body.get("to_address") or {}
        options = body.get("options") or {}
        international = (to.get("country") or "US").upper() != "US"
        carriers = self.key_carriers.get(api_key) or ALL_CARRIERS
        wanted = body.get("carrier_accounts") or []
        if wanted:
            names = {self.carrier_accounts.get(ca if isinstance(ca, str) else ca.get("id")) for ca in wanted}
            carriers = [c for c in carriers if c in names]
        weight_lb = max(1, math.ceil(float(parcel.get("weight") or 1) / 16))
        surcharge = SIGNATURE_SURCHARGE.get(options.get("delivery_confirmation") or "", 0.0)
        rates = []
        for carrier in carriers:
            ca_id = next(
                (k for k, v in self.carrier_accounts.items() if v == carrier), f"ca_{carrier.lower()}"
            )
            for service, base, per_lb, days, guaranteed, intl in RATE_TABLE[carrier]:
                if intl != international:
                    continue
                amount = base + per_lb * (weight_lb - 1) + surcharge
                stamp = _now()
                rates.append(
                    {
                        "id": _id("rate"),
                        "object": "Rate",
                        "created_at": stamp,
                        "updated_at": stamp,
                        "mode": "test",
                        "service": service,
                        "carrier": carrier,
                        "rate": f"{amount:.2f}",
                        "currency": "USD",
                        "retail_rate": f"{amount * 1.15:.2f}",
                        "retail_currency": "USD",
                        "list_rate": f"{amount * 1.08:.2f}",
                        "list_currency": "USD",
                        "billing_type": "easypost",
                        "delivery_days": days,
                        "delivery_date": None,
                        "delivery_date_guaranteed": guaranteed,
                        "est_delivery_days": days,
                        "shipment_id": shipment_id,
                        "carrier_account_id": ca_id,
                    }
                )
        return rates

    def create_shipment(self, api_key: str, body: dict) -> dict:
        data = body.get("shipment") or {}
        sid = _id("shp")
        from_address = _address(data.get("from_address") or {})
        options = {
            "currency": "USD",
            "payment": {"type": "SENDER"},
            "date_advance": 0,
            **(data.get("options") or {}),
        }
        stamp = _now()
        shipment = {
            "id": sid,
            "created_at": stamp,
            "is_return": False,
            "messages": [],
            "mode": "test",
            "options": options,
            "reference": data.get("reference"),
            "status": "unknown",
            "tracking_code": None,
            "updated_at": stamp,
            "batch_id": None,
            "batch_status": None,
            "batch_message": None,
            "customs_info": data.get("customs_info"),
            "from_address": from_address,
            "insurance": None,
            "order_id": None,
            "parcel": _parcel(data.get("parcel") or {}),
            "postage_label": None,
            "rates": self.rates_for(api_key, data, sid),
            "refund_status": None,
            "scan_form": None,
            "selected_rate": None,
            "tracker": None,
            "to_address": _address(data.get("to_address") or {}),
            "usps_zone": 4,
            "return_address": from_address,
            "buyer_address": _address(data.get("to_address") or {}),
            "forms": [],
            "fees": [],
            "object": "Shipment",
        }
        with self.lock:
            self.shipments[sid] = shipment
        return shipment

    def label_urls(self, shipment_id: str, fmt: str) -> dict:
        base = f"{self.url}/files/postage_label/{shipment_id}"
        return {
            "label_url": f"{base}.png",
            "label_pdf_url": f"{base}.pdf" if fmt == "PDF" else None,
            "label_zpl_url": f"{base}.zpl" if fmt == "ZPL" else None,
            "label_epl2_url": None,
        }

    def buy(self, shipment_id: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            shipment = self.shipments.get(shipment_id)
            if shipment is None:
                return 404, _error("NOT_FOUND", "The requested resource could not be found.")
            if shipment["postage_label"] is not None:
                return 422, _error("SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
            rate_id = (body.get("rate") or {}).get("id")
            rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if rate is None:
                return 422, _error("SHIPMENT.RATE.INVALID", "Rate not found for this shipment.")
            fmt = (shipment["options"].get("label_format") or "PNG").upper()
            tracking = f"94001{next(_ids):017d}"
            stamp = _now()
            shipment["tracking_code"] = tracking
            shipment["selected_rate"] = rate
            shipment["postage_label"] = {
                "object": "PostageLabel",
                "id": _id("pl"),
                "created_at": stamp,
                "updated_at": stamp,
                "date_advance": 0,
                "integrated_form": "none",
                "label_date": stamp,
                "label_resolution": 300,
                "label_size": "4x6",
                "label_type": "default",
                "label_file_type": {"PDF": "application/pdf", "ZPL": "application/zpl"}.get(fmt, "image/png"),
                **self.label_urls(shipment_id, fmt),
                "label_file": None,
            }
            fees = [
                {
                    "object": "Fee",
                    "type": "LabelFee",
                    "amount": "0.00000",
                    "charged": True,
                    "refunded": False,
                },
                {
                    "object": "Fee",
                    "type": "PostageFee",
                    "amount": f"{float(rate['rate']):.5f}",
                    "charged": True,
                    "refunded": False,
                },
            ]
            if body.get("insurance"):
                amount = max(1.0, round(float(body["insurance"]) * 0.01, 2))
                fees.append(
                    {
                        "object": "Fee",
                        "type": "InsuranceFee",
                        "amount": f"{amount:.5f}",
                        "charged": True,
                        "refunded": False,
                    }
                )
                shipment["insurance"] = f"{float(body['insurance']):.2f}"
            shipment["fees"] = fees
            tracker = self._tracker(tracking, rate["carrier"], shipment_id)
            shipment["tracker"] = tracker
            shipment["updated_at"] = stamp
            return 200, shipment

    def _tracker(self, code: str, carrier: str, shipment_id: str | None) -> dict:
        stamp = _now()
        status = self.tracker_status.get(code, "pre_transit" if shipment_id is None else "unknown")
        details = []
        if status != "unknown":
            details.append(
                {
                    "object": "TrackingDetail",
                    "message": "Shipping Label Created",
                    "description": "",
                    "status": "pre_transit",
                    "status_detail": "status_update",
                    "datetime": (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "source": carrier,
                    "carrier_code": "",
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": "HOUSTON",
                        "state": "TX",
                        "country": None,
                        "zip": "77063",
                    },
                }
            )
        if status not in ("unknown", "pre_transit"):
            details.append(
                {
                    "object": "TrackingDetail",
                    "message": status.replace("_", " ").title(),
                    "description": "",
                    "status": status,
                    "status_detail": "arrived_at_facility" if status == "in_transit" else "status_update",
                    "datetime": stamp,
                    "source": carrier,
                    "carrier_code": "",
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": "CHARLESTON",
                        "state": "SC",
                        "country": None,
                        "zip": "29401",
                    },
                }
            )
        tracker = {
            "id": _id("trk"),
            "object": "Tracker",
            "mode": "test",
            "tracking_code": code,
            "status": status,
            "status_detail": "status_update" if status != "unknown" else "unknown",
            "created_at": stamp,
            "updated_at": stamp,
            "signed_by": None,
            "weight": None,
            "est_delivery_date": (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "shipment_id": shipment_id,
            "carrier": carrier,
            "tracking_details": details,
            "fees": [],
            "carrier_detail": None,
            "finalized": status == "delivered",
            "is_return": False,
            "public_url": f"https://track.easypost.com/{code}",
        }
        with self.lock:
            self.trackers[tracker["id"]] = tracker
        return tracker

    def verify_address(self, body: dict) -> dict:
        data = dict(body.get("address") or {})
        street = (data.get("street1") or "").strip()
        if not re.match(r"^[1-9]\d*\s", street) or "unknown" in street.lower():
            errors = [
                {
                    "code": "E.ADDRESS.NOT_FOUND",
                    "field": "address",
                    "message": "Address not found",
                    "suggestion": None,
                }
            ]
            verifications = {
                "zip4": {"success": False, "errors": errors, "details": None},
                "delivery": {"success": False, "errors": errors, "details": {}},
            }
            return _address(data, verifications=verifications)
        merged = " ".join(p for p in [street, data.get("street2") or ""] if p).upper()
        zip5 = (data.get("zip") or "")[:5]
        corrected = {
            **data,
            "name": (data.get("name") or "").upper() or None,
            "street1": merged,
            "street2": "",
            "city": (data.get("city") or "").upper(),
            "state": (data.get("state") or "").upper(),
            "zip": f"{zip5}-{int(zip5 or 0) % 9000 + 1000:04d}" if zip5.isdigit() else data.get("zip"),
            "residential": True,
        }
        corrected.update(self.address_corrections.get(street.upper(), {}))
        verifications = {
            "zip4": {"success": True, "errors": [], "details": None},
            "delivery": {
                "success": True,
                "errors": [],
                "details": {
                    "latitude": 37.77551,
                    "longitude": -122.39697,
                    "time_zone": "America/Los_Angeles",
                },
            },
        }
        return _address(corrected, verifications=verifications)

    def scan_form(self, body: dict) -> dict:
        ids = [
            s["id"] if isinstance(s, dict) else s
            for s in (body.get("scan_form") or {}).get("shipment")
            or (body.get("scan_form") or {}).get("shipments")
            or []
        ]
        shipments = [self.shipments.get(i) for i in ids]
        codes = [s["tracking_code"] for s in shipments if s and s.get("tracking_code")]
        address = shipments[0]["from_address"] if shipments and shipments[0] else _address({})
        stamp = _now()
        sf_id = _id("sf")
        return {
            "id": sf_id,
            "object": "ScanForm",
            "created_at": stamp,
            "updated_at": stamp,
            "tracking_codes": codes,
            "address": address,
            "status": "created",
            "message": None,
            "form_url": f"{self.url}/files/scan_form/{sf_id}.pdf",
            "form_file_type": None,
            "batch_id": _id("batch"),
            "confirmation": None,
        }


def _error(code: str, message: str, errors: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "errors": errors or []}}


FILE_BYTES = {
    "pdf": b"%PDF-1.4\n% fake 4x6 label\n%%EOF\n",
    "zpl": b"^XA^FO50,50^ADN,36,20^FDFAKE LABEL^FS^XZ",
    "png": b"\x89PNG\r\n\x1a\nfake",
}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeEasyPost
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        return

    def _send(self, status: int, body, content_type: str = "application/json; charset=utf-8") -> None:
        raw = (
            body
            if isinstance(body, bytes)
            else (body if isinstance(body, str) else json.dumps(body)).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-ep-request-uuid", uuid.uuid4().hex)
        # headers and body in one write: a split write meets Nagle + delayed ACK (~40 ms per request)
        self._headers_buffer.append(b"\r\n" + raw)
        self.flush_headers()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parsed = urlparse(self.path)
        path = parsed.path
        body = self._body() if method in ("POST", "PUT", "PATCH") else None
        auth = self.headers.get("Authorization", "")
        api_key = auth.removeprefix("Bearer ").strip()
        with fake.lock:
            fake.requests.append((api_key, method, path, body))
        if path.startswith("/files/"):
            ext = path.rsplit(".", 1)[-1]
            return self._send(200, FILE_BYTES.get(ext, b"fake"), "application/octet-stream")
        latency = fake.key_latency.get(api_key, fake.latency)
        if latency:
            time.sleep(latency)
        replay = fake.replays.get((method, path))
        if replay:
            status, text = replay.popleft()
            return self._send(status, text)
        if not api_key:
            return self._send(401, _error("APIKEY.REQUIRED", "API key required."))
        fault = fake.next_fault(api_key)
        if fault:
            return self._fault(fault)
        route = path.removeprefix("/v2")
        if method == "POST" and route == "/shipments":
            if not (body or {}).get("shipment"):
                return self._send(
                    422,
                    _error(
                        "PARAMETER.REQUIRED",
                        "Missing required parameter.",
                        [{"field": "shipment", "message": "cannot be blank"}],
                    ),
                )
            return self._send(201, fake.create_shipment(api_key, body or {}))
        m = re.fullmatch(r"/shipments/(shp_\w+)(/\w+)?", route)
        if m:
            sid, action = m.group(1), m.group(2) or ""
            if action == "/buy" and method == "POST":
                status, data = fake.buy(sid, body or {})
                return self._send(status, data)
            shipment = fake.shipments.get(sid)
            if shipment is None:
                return self._send(404, _error("NOT_FOUND", "The requested resource could not be found."))
            if action == "" and method == "GET":
                return self._send(200, shipment)
            if action == "/refund" and method == "POST":
                if shipment["postage_label"] is None:
                    return self._send(
                        422, _error("SHIPMENT.REFUND.NOT_PURCHASED", "Shipment has no postage.")
                    )
                shipment["refund_status"] = "submitted"
                return self._send(200, shipment)
            if action == "/label" and method == "GET":
                fmt = (parse_qs(parsed.query).get("file_format") or ["PDF"])[0].upper()
                if shipment["postage_label"] is None:
                    return self._send(422, _error("SHIPMENT.POSTAGE.REQUIRED", "Shipment has no postage."))
                shipment["postage_label"].update(
                    {k: v for k, v in fake.label_urls(sid, fmt).items() if v and k != "label_url"}
                )
                return self._send(200, shipment)
        if method == "POST" and route == "/addresses":
            data = body or {}
            if data.get("verify") or data.get("verify_strict"):
                return self._send(201, fake.verify_address(data))
            return self._send(201, _address(data.get("address") or {}))
        if method == "POST" and route == "/trackers":
            t = (body or {}).get("tracker") or {}
            return self._send(
                200, fake._tracker(t.get("tracking_code") or "", t.get("carrier") or "USPS", None)
            )
        m = re.fullmatch(r"/trackers/(trk_\w+)", route)
        if m and method == "GET":
            tracker = fake.trackers.get(m.group(1))
            if tracker is None:
                return self._send(404, _error("NOT_FOUND", "The requested resource could not be found."))
            refreshed = fake._tracker(tracker["tracking_code"], tracker["carrier"], tracker["shipment_id"])
            refreshed["id"] = tracker["id"]
            return self._send(200, refreshed)
        if method == "POST" and route == "/scan_forms":
            return self._send(200, fake.scan_form(body or {}))
        if method == "GET" and route == "/users":
            return self._send(
                200,
                {
                    "id": "user_fake",
                    "object": "User",
                    "parent_id": None,
                    "name": "Fake EasyPost",
                    "verified": True,
                    "balance": "100.00000",
                    "insurance_fee_rate": "0.01",
                    "insurance_fee_minimum": "1.00",
                    "children": [],
                },
            )
        return self._send(404, _error("NOT_FOUND", "The requested resource could not be found."))

    def _fault(self, fault: str) -> None:
        if fault == "timeout":
            time.sleep(self.fake.timeout_sleep)
            return self._send(504, _error("TIMEOUT", "too late"))
        if fault == "malformed":
            return self._send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
        if fault == "429":
            return self._send(429, _error("RATE_LIMITED", "You have exceeded the rate limit."))
        if fault == "401":
            return self._send(401, _error("APIKEY.INACTIVE", "This api key is no longer active."))
        if fault == "422":
            return self._send(
                422,
                _error(
                    "SHIPMENT.INVALID_PARAMS",
                    "dimensions",
                    [{"field": "parcel", "message": "dimensions exceed the carrier's limits"}],
                ),
            )
        status = int(fault) if fault.isdigit() else 500
        return self._send(status, _error("INTERNAL_SERVER_ERROR", "Internal server error."))
