"""A fake Shopify Admin API (REST + GraphQL) for one shop, plus webhook signing like Shopify's."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import uuid

from tests.channels.fakes.base import FakeServer, Request, Response

VERSION = "2025-01"
API = rf"/admin/api/{VERSION}"
LOCATION_ID = 905684977

ORDER_TEMPLATE = {
    "id": 450789469,
    "name": "#1001",
    "order_number": 1001,
    "email": "bob.norman@mail.example.com",
    "created_at": "2026-01-10T11:00:00-05:00",
    "updated_at": "2026-01-10T11:00:00-05:00",
    "cancelled_at": None,
    "currency": "USD",
    "financial_status": "paid",
    "fulfillment_status": None,
    "total_price": "409.94",
    "note": None,
    "tags": "",
    "note_attributes": [],
    "line_items": [
        {
            "id": 466157049,
            "variant_id": 39072856,
            "product_id": 632910392,
            "sku": "IPOD2008GREEN",
            "name": "IPod Nano - 8gb - green",
            "title": "IPod Nano - 8gb",
            "quantity": 1,
            "fulfillable_quantity": 1,
            "price": "199.00",
            "requires_shipping": True,
            "tax_lines": [{"price": "5.97", "rate": 0.03, "title": "State Tax"}],
        }
    ],
    "shipping_lines": [{"code": "Standard", "price": "10.00", "title": "Standard Shipping"}],
    "shipping_address": {
        "first_name": "Bob",
        "last_name": "Norman",
        "name": "Bob Norman",
        "address1": "Chestnut Street 92",
        "address2": "",
        "city": "Louisville",
        "province": "Kentucky",
        "province_code": "KY",
        "zip": "40202",
        "country": "United States",
        "country_code": "US",
        "phone": "555-625-1199",
        "company": None,
    },
    "billing_address": {
        "first_name": "Bob",
        "last_name": "Norman",
        "name": "Bob Norman",
        "address1": "Chestnut Street 92",
        "city": "Louisville",
        "province_code": "KY",
        "zip": "40202",
        "country_code": "US",
    },
    "customer": {
        "id": 207119551,
        "email": "bob.norman@mail.example.com",
        "first_name": "Bob",
        "last_name": "Norman",
    },
}

PRODUCT_TEMPLATE = {
    "id": 632910392,
    "title": "IPod Nano - 8GB",
    "variants": [
        {
            "id": 808950810,
            "product_id": 632910392,
            "title": "Pink",
            "sku": "IPOD2008PINK",
            "price": "199.00",
            "grams": 200,
            "barcode": "1234_pink",
            "inventory_item_id": 808950810,
            "inventory_quantity": 10,
        },
        {
            "id": 49148385,
            "product_id": 632910392,
            "title": "Red",
            "sku": "IPOD2008RED",
            "price": "199.00",
            "grams": 200,
            "barcode": "1234_red",
            "inventory_item_id": 49148385,
            "inventory_quantity": 20,
        },
    ],
}


def make_order(
    order_id: int, *, sku: str = "IPOD2008GREEN", quantity: int = 1, updated_at: str = "", **overrides
) -> dict:
    order = copy.deepcopy(ORDER_TEMPLATE)
    order["id"] = order_id
    order["name"] = f"#{order_id}"
    order["order_number"] = order_id
    item = order["line_items"][0]
    item.update(id=order_id * 10 + 1, sku=sku, quantity=quantity, fulfillable_quantity=quantity)
    if updated_at:
        order["updated_at"] = updated_at
    order.update(overrides)
    return order


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook(
    topic: str, payload: dict, *, secret: str, shop: str, event_id: str | None = None
) -> tuple[bytes, dict]:
    """A webhook delivery as Shopify sends it: raw JSON body and its headers (the event id stays the same
    across re-deliveries; the webhook id changes)."""
    body = json.dumps(payload).encode()
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop,
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body, secret),
        "HTTP_X_SHOPIFY_EVENT_ID": event_id or str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_WEBHOOK_ID": str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_API_VERSION": VERSION,
    }
    return body, headers


class FakeShopify(FakeServer):
    page_size = 50

    def __init__(self, *, shop: str = "acme.myshopify.com", token: str = "shpat_test"):
        self.shop = shop
        self.token = token
        self.orders: dict[int, dict] = {}
        self.products: list[dict] = [copy.deepcopy(PRODUCT_TEMPLATE)]
        self.inventory: dict[tuple[str, str], int] = {}
        self.fulfillment_orders: dict[int, list[dict]] = {}
        self.fulfillments: list[dict] = []
        self.accepted_requests: list[str] = []
        self.cancellation_answers: list[tuple[str, str]] = []
        self.cancelled_orders: list[str] = []
        self.services: list[dict] = []
        self.webhooks: list[dict] = []
        self.ids = itertools.count(7000)
        self.page_tokens: dict[str, list[dict]] = {}
        super().__init__()

    # --- the contract-test harness ----------------------------------------------------------------
    platform = "shopify"

    def conn_kwargs(self) -> dict:
        return {"account_id": self.shop, "base_url": self.url, "access_token": self.token}

    def add_contract_order(self, n: int, *, sku: str, quantity: int, updated: str) -> None:
        self.add_order(make_order(n, sku=sku, quantity=quantity, updated_at=updated))

    def stock_of(self, sku: str):
        return self.inventory.get((str({"IPOD2008PINK": 808950810}.get(sku, sku)), str(LOCATION_ID)))

    def stock_update(self, sku: str, quantity: int):
        from integrations.base import StockUpdate

        return StockUpdate(sku=sku, quantity=quantity, inventory_item_id="808950810")

    @property
    def shipments(self):
        return self.fulfillments

    # --- state helpers ----------------------------------------------------------------------------
    def add_order(self, order: dict, *, location_id: int = LOCATION_ID) -> dict:
        with self.lock:
            self.orders[order["id"]] = order
            self.fulfillment_orders[order["id"]] = [
                {
                    "id": order["id"] + 1,
                    "order_id": order["id"],
                    "assigned_location_id": location_id,
                    "status": "open",
                    "request_status": "accepted",
                    "fulfillment_order_line_items": [
                        {
                            "id": li["id"] + 5,
                            "line_item_id": li["id"],
                            "sku": li.get("sku"),
                            "quantity": li["quantity"],
                            "inventory_item_id": li.get("variant_id"),
                        }
                        for li in order["line_items"]
                    ],
                }
            ]
        return order

    def _auth(self, req: Request) -> Response | None:
        if req.headers.get("X-Shopify-Access-Token") != self.token:
            return Response(
                401,
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
            )
        return None

    def _page(self, req: Request, items: list[dict], key: str, path: str) -> Response:
        remaining = self.page_tokens.pop(req.query["page_info"], []) if "page_info" in req.query else items
        limit = min(int(req.query.get("limit") or 50), self.page_size)
        chunk, rest = remaining[:limit], remaining[limit:]
        headers = {}
        if rest:
            token = uuid.uuid4().hex
            self.page_tokens[token] = rest
            headers["Link"] = f'<{self.url}{API}/{path}?limit={limit}&page_info={token}>; rel="next"'
        return Response(200, {key: chunk}, headers)

    # --- routes -----------------------------------------------------------------------------------
    def setup_routes(self) -> None:
        r = self.route
        r("POST", r"/admin/oauth/access_token", self.access_token)
        r(
            "GET",
            r"/admin/oauth/access_scopes\.json",
            lambda q, m: {"access_scopes": [{"handle": "read_orders"}]},
        )
        r("GET", API + r"/shop\.json", self.get_shop)
        r("GET", API + r"/orders\.json", self.list_orders)
        r("GET", API + r"/orders/(\d+)\.json", self.get_order)
        r("GET", API + r"/orders/(\d+)/fulfillment_orders\.json", self.get_fulfillment_orders)
        r("GET", API + r"/assigned_fulfillment_orders\.json", self.assigned)
        r("POST", API + r"/orders/(\d+)/cancel\.json", self.cancel_order)
        r("POST", API + r"/fulfillments\.json", self.create_fulfillment)
        r("POST", API + r"/fulfillment_orders/(\d+)/fulfillment_request/accept\.json", self.accept_request)
        r(
            "POST",
            API + r"/fulfillment_orders/(\d+)/cancellation_request/(accept|reject)\.json",
            self.answer_cancel,
        )
        r("GET", API + r"/products\.json", self.list_products)
        r("GET", API + r"/fulfillment_services\.json", lambda q, m: {"fulfillment_services": self.services})
        r("POST", API + r"/fulfillment_services\.json", self.create_service)
        r("GET", API + r"/webhooks\.json", lambda q, m: {"webhooks": self.webhooks})
        r("POST", API + r"/webhooks\.json", self.create_webhook)
        r("POST", API + r"/graphql\.json", self.graphql)

    def access_token(self, req, m):
        data = req.json() or {}
        if data.get("grant_type") == "refresh_token":
            if data.get("refresh_token") != "shprt_test":
                return Response(400, {"error": "invalid_grant"})
            self.token = "shpat_refreshed"
            return {
                "access_token": self.token,
                "refresh_token": "shprt_test",
                "expires_in": 3600,
                "scope": "read_orders",
            }
        if not data.get("code"):
            return Response(400, {"error": "invalid_request"})
        return {"access_token": self.token, "scope": "read_orders,write_orders,write_inventory"}

    def get_shop(self, req, m):
        return self._auth(req) or {
            "shop": {"id": 690933842, "name": "Acme Test Shop", "myshopify_domain": self.shop}
        }

    def list_orders(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        since = req.query.get("updated_at_min", "")
        from integrations.common import parse_time

        floor = parse_time(since) if since else None
        items = sorted(self.orders.values(), key=lambda o: (parse_time(o["updated_at"]), o["id"]))
        if floor is not None:
            items = [o for o in items if parse_time(o["updated_at"]) >= floor]
        return self._page(req, items, "orders", "orders.json")

    def get_order(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        order = self.orders.get(int(m.group(1)))
        return Response(404, {"errors": "Not Found"}) if order is None else {"order": order}

    def get_fulfillment_orders(self, req, m):
        return self._auth(req) or {"fulfillment_orders": self.fulfillment_orders.get(int(m.group(1)), [])}

    def assigned(self, req, m):
        wanted = {"fulfillment_requested": "submitted", "cancellation_requested": "cancellation_requested"}
        status = wanted.get(req.query.get("assignment_status", ""), "")
        found = [
            fo for fos in self.fulfillment_orders.values() for fo in fos if fo.get("request_status") == status
        ]
        return self._auth(req) or {"fulfillment_orders": found}

    def cancel_order(self, req, m):
        self.cancelled_orders.append(m.group(1))
        return {"order": self.orders.get(int(m.group(1)), {})}

    def create_fulfillment(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        body = (req.json() or {}).get("fulfillment") or {}
        groups = body.get("line_items_by_fulfillment_order") or []
        fo_ids = {g["fulfillment_order_id"] for g in groups}
        locations = {
            fo["assigned_location_id"]
            for fos in self.fulfillment_orders.values()
            for fo in fos
            if fo["id"] in fo_ids
        }
        if len(locations) != 1:
            return Response(422, {"errors": ["All fulfillment orders must belong to the same location"]})
        fulfillment = {
            "id": next(self.ids),
            "status": "success",
            "tracking_info": body.get("tracking_info"),
            "line_items_by_fulfillment_order": groups,
        }
        self.fulfillments.append(fulfillment)
        for fos in self.fulfillment_orders.values():
            for fo in fos:
                if fo["id"] in fo_ids:
                    fo["status"] = "closed"
        return Response(201, {"fulfillment": fulfillment})

    def accept_request(self, req, m):
        self.accepted_requests.append(m.group(1))
        return {"fulfillment_order": {"id": int(m.group(1)), "request_status": "accepted"}}

    def answer_cancel(self, req, m):
        self.cancellation_answers.append((m.group(1), m.group(2)))
        return {"fulfillment_order": {"id": int(m.group(1))}}

    def list_products(self, req, m):
        return self._auth(req) or self._page(req, self.products, "products", "products.json")

    def create_service(self, req, m):
        body = (req.json() or {}).get("fulfillment_service") or {}
        service = {**body, "id": next(self.ids), "location_id": LOCATION_ID}
        self.services.append(service)
        return Response(201, {"fulfillment_service": service})

    def create_webhook(self, req, m):
        body = (req.json() or {}).get("webhook") or {}
        hook = {**body, "id": next(self.ids)}
        self.webhooks.append(hook)
        return Response(201, {"webhook": hook})

    def graphql(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        data = req.json() or {}
        query = data.get("query") or ""
        cost = {
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990.0, "restoreRate": 100.0}
        }
        if "inventorySetQuantities" in query:
            qi = ((data.get("variables") or {}).get("input")) or {}
            for q in qi.get("quantities") or []:
                item = re.sub(r".*/", "", q["inventoryItemId"])
                location = re.sub(r".*/", "", q["locationId"])
                self.inventory[(item, location)] = int(q["quantity"])
            return {
                "data": {
                    "inventorySetQuantities": {
                        "inventoryAdjustmentGroup": {"reason": "correction"},
                        "userErrors": [],
                    }
                },
                "extensions": {"cost": cost},
            }
        if "shop" in query:
            return {
                "data": {"shop": {"name": "Acme Test Shop", "myshopifyDomain": self.shop}},
                "extensions": {"cost": cost},
            }
        return {"errors": [{"message": "unknown query"}]}
