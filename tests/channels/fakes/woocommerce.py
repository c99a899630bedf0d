"""A fake WooCommerce REST API v3 store (wp-json/wc/v3) and WooCommerce-style webhook signing."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json

from integrations.base import StockUpdate
from tests.channels.fakes.base import FakeServer, Response

P = r"/wp-json/wc/v3"

ORDER = {
    "id": 727,
    "parent_id": 0,
    "number": "727",
    "status": "processing",
    "currency": "USD",
    "date_created": "2026-01-10T16:28:02",
    "date_created_gmt": "2026-01-10T19:28:02",
    "date_modified": "2026-01-10T16:28:08",
    "date_modified_gmt": "2026-01-10T19:28:08",
    "shipping_total": "10.00",
    "total": "29.35",
    "customer_note": "",
    "billing": {
        "first_name": "John",
        "last_name": "Doe",
        "company": "",
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
        "email": "john.doe@mail.example.com",
        "phone": "(555) 555-5555",
    },
    "shipping": {
        "first_name": "John",
        "last_name": "Doe",
        "company": "",
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
    },
    "line_items": [
        {
            "id": 315,
            "name": "Woo Single #1",
            "product_id": 93,
            "variation_id": 0,
            "quantity": 2,
            "subtotal": "6.00",
            "total": "6.00",
            "total_tax": "0.45",
            "sku": "WOO-1",
            "price": 3,
        }
    ],
    "shipping_lines": [{"id": 317, "method_title": "Flat Rate", "method_id": "flat_rate", "total": "10.00"}],
}
PRODUCTS = [
    {
        "id": 93,
        "name": "Woo Single #1",
        "type": "simple",
        "sku": "WOO-1",
        "price": "3.00",
        "weight": "0.2",
        "stock_quantity": 5,
        "manage_stock": True,
    },
    {"id": 22, "name": "Ship Your Idea", "type": "variable", "sku": "", "price": "12.00"},
]
VARIATIONS = {
    22: [
        {
            "id": 23,
            "sku": "IDEA-BLK-M",
            "price": "12.00",
            "stock_quantity": 3,
            "attributes": [{"name": "Color", "option": "Black"}, {"name": "Size", "option": "M"}],
        }
    ]
}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook(topic: str, payload: dict, *, secret: str, delivery: str = "1") -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    return body, {
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_SIGNATURE": sign(body, secret),
        "HTTP_X_WC_WEBHOOK_SOURCE": "https://shop.example.com/",
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery,
        "HTTP_X_WC_WEBHOOK_ID": "7",
    }


def make_order(
    n: int, *, sku: str = "WOO-1", quantity: int = 2, updated: str = "2026-01-10T19:28:08"
) -> dict:
    order = copy.deepcopy(ORDER)
    order.update(id=n, number=str(n), date_modified_gmt=updated)
    order["line_items"][0].update(id=n * 10, sku=sku, quantity=quantity)
    return order


class FakeWooCommerce(FakeServer):
    platform = "woocommerce"
    page_size = 100

    def __init__(self):
        self.orders: dict[int, dict] = {}
        self.products = copy.deepcopy(PRODUCTS)
        self.variations = copy.deepcopy(VARIATIONS)
        self.notes: list[tuple[str, dict]] = []
        self.updates: list[tuple[str, dict]] = []
        super().__init__()

    def conn_kwargs(self) -> dict:
        return {
            "account_id": "https://shop.example.com",
            "base_url": self.url,
            "credentials": {"consumer_key": "ck_test", "consumer_secret": "cs_test"},
        }

    def add_order(self, n: int, *, sku: str, quantity: int, updated: str) -> None:
        self.orders[n] = make_order(n, sku=sku, quantity=quantity, updated=updated.replace("Z", ""))

    def stock_of(self, sku: str):
        for p in self.products + [v for vs in self.variations.values() for v in vs]:
            if p.get("sku") == sku:
                return p.get("stock_quantity")
        return None

    def stock_update(self, sku: str, quantity: int) -> StockUpdate:
        return StockUpdate(sku=sku, quantity=quantity, external_id="93")

    @property
    def shipments(self):
        return [u for u in self.updates if u[1].get("status") == "completed"]

    def _paged(self, req, items):
        page = int(req.query.get("page") or 1)
        per = min(int(req.query.get("per_page") or 10), self.page_size)
        pages = max(1, -(-len(items) // per))
        return Response(
            200,
            items[(page - 1) * per : page * per],
            {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)},
        )

    def setup_routes(self):
        r = self.route
        r("GET", P + r"/system_status", lambda q, m: {"environment": {"version": "9.1.0"}})
        r("GET", P + r"/orders", self.list_orders)
        r("POST", P + r"/orders/(\d+)/notes", self.add_note)
        r("PUT", P + r"/orders/(\d+)", self.update_order)
        r("GET", P + r"/products", lambda q, m: self._paged(q, self.products))
        r(
            "GET",
            P + r"/products/(\d+)/variations",
            lambda q, m: self._paged(q, self.variations.get(int(m.group(1)), [])),
        )
        r("POST", P + r"/products/batch", self.batch)
        r("PUT", P + r"/products/(\d+)/variations/(\d+)", self.update_variation)
        r("GET", P + r"/webhooks", lambda q, m: [])
        r("POST", P + r"/webhooks", lambda q, m: Response(201, {"id": 1, **(q.json() or {})}))

    def list_orders(self, req, m):
        after = req.query.get("modified_after", "").replace("Z", "")
        items = sorted(self.orders.values(), key=lambda o: (o["date_modified_gmt"], o["id"]))
        if after:
            items = [o for o in items if o["date_modified_gmt"] > after[:19]]
        return self._paged(req, items)

    def add_note(self, req, m):
        self.notes.append((m.group(1), req.json()))
        return Response(201, {"id": 1, **req.json()})

    def update_order(self, req, m):
        self.updates.append((m.group(1), req.json()))
        order = self.orders.get(int(m.group(1)), {"id": int(m.group(1))})
        order.update({k: v for k, v in req.json().items() if k == "status"})
        return order

    def batch(self, req, m):
        for upd in (req.json() or {}).get("update") or []:
            for p in self.products:
                if p["id"] == upd["id"]:
                    p["stock_quantity"] = upd["stock_quantity"]
        return {"update": (req.json() or {}).get("update") or []}

    def update_variation(self, req, m):
        for v in self.variations.get(int(m.group(1)), []):
            if v["id"] == int(m.group(2)):
                v["stock_quantity"] = req.json()["stock_quantity"]
                return v
        return Response(404, {"code": "woocommerce_rest_invalid_id"})
