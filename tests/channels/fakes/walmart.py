"""A fake Walmart Marketplace API (token, orders with nextCursor, acknowledge, ship, cancel, inventory, items)."""

from __future__ import annotations

import copy
import json
import uuid
from urllib.parse import urlencode

from integrations.base import StockUpdate
from integrations.common import parse_time
from tests.channels.fakes.base import FakeServer, Response

ORDER = {
    "purchaseOrderId": "1796277083022",
    "customerOrderId": "5281956426648",
    "customerEmailId": "buyer@relay.walmart.com",
    "orderDate": 1768039200000,
    "shippingInfo": {
        "phone": "3155598681",
        "estimatedShipDate": 1768125600000,
        "methodCode": "Standard",
        "postalAddress": {
            "name": "Walt Buyer",
            "address1": "3 Oak Ave",
            "city": "Bentonville",
            "state": "AR",
            "postalCode": "72712",
            "country": "USA",
            "addressType": "RESIDENTIAL",
        },
    },
    "orderLines": {
        "orderLine": [
            {
                "lineNumber": "1",
                "item": {"productName": "Thing", "sku": "WM-1"},
                "charges": {
                    "charge": [
                        {
                            "chargeType": "PRODUCT",
                            "chargeName": "ItemPrice",
                            "chargeAmount": {"currency": "USD", "amount": 15.0},
                            "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": 1.2}},
                        }
                    ]
                },
                "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": "1"},
                "orderLineStatuses": {
                    "orderLineStatus": [
                        {"status": "Created", "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"}}
                    ]
                },
            }
        ]
    },
}


class FakeWalmart(FakeServer):
    platform = "walmart"
    page_size = 2

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.inventory: dict[str, int] = {"WM-1": 6}
        self.acks: list[str] = []
        self.ships: list[tuple[str, dict]] = []
        self.cancels: list[tuple[str, dict]] = []
        self.tokens: set[str] = set()
        self.cursors: dict[str, list] = {}
        self.subscriptions: list[dict] = []
        super().__init__()

    def conn_kwargs(self) -> dict:
        return {
            "account_id": "10001234",
            "base_url": self.url,
            "credentials": {"client_id": "wm-client", "client_secret": "wm-secret"},
        }

    def add_order(self, n: int, *, sku: str, quantity: int, updated: str) -> None:
        order = copy.deepcopy(ORDER)
        order["purchaseOrderId"] = str(1_000_000 + n)
        order["customerOrderId"] = str(5_000_000 + n)
        order["orderDate"] = int(parse_time(updated).timestamp() * 1000)
        order["lastModified"] = updated
        line = order["orderLines"]["orderLine"][0]
        line["item"]["sku"] = sku
        line["orderLineQuantity"]["amount"] = str(quantity)
        self.orders[order["purchaseOrderId"]] = order

    def stock_of(self, sku):
        return self.inventory.get(sku)

    def stock_update(self, sku, quantity):
        return StockUpdate(sku=sku, quantity=quantity, external_id=sku)

    @property
    def shipments(self):
        return self.ships

    def _auth(self, req):
        if req.headers.get("WM_SEC.ACCESS_TOKEN") not in self.tokens or not req.headers.get(
            "WM_QOS.CORRELATION_ID"
        ):
            return Response(
                401,
                {
                    "errors": {
                        "error": [{"code": "UNAUTHORIZED.GMP_GATEWAY_API", "description": "Unauthorized"}]
                    }
                },
            )
        return None

    def setup_routes(self):
        r = self.route
        r("POST", r"/v3/token", self.token)
        r("GET", r"/v3/orders", self.list_orders)
        r(
            "GET",
            r"/v3/orders/(\d+)",
            lambda q, m: self._auth(q) or {"order": self.orders.get(m.group(1), {})},
        )
        r("POST", r"/v3/orders/(\d+)/acknowledge", self.ack)
        r("POST", r"/v3/orders/(\d+)/shipping", self.ship)
        r("POST", r"/v3/orders/(\d+)/cancel", self.cancel)
        r("PUT", r"/v3/inventory", self.put_inventory)
        r("POST", r"/v3/webhooks/subscriptions", self.subscribe)
        r(
            "GET",
            r"/v3/items",
            lambda q, m: (
                self._auth(q)
                or {
                    "ItemResponse": [
                        {
                            "sku": "WM-1",
                            "productName": "Thing",
                            "upc": "012345678912",
                            "price": {"amount": 15.0, "currency": "USD"},
                            "wpid": "0RCPILAXM0C1",
                        }
                    ],
                    "totalItems": 1,
                }
            ),
        )

    def subscribe(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        events = []
        for event in (req.json() or {}).get("events") or []:
            event = {**event, "subscriptionId": uuid.uuid4().hex, "partnerId": "10001234"}
            self.subscriptions.append(event)
            events.append({k: v for k, v in event.items() if k != "authDetails"})
        return {"events": events}

    def event(self, purchase_order_id: str, *, event_type: str = "PO_CREATED", event_id: str = "") -> bytes:
        """An order event notification as Walmart posts it (``source`` metadata + ``payload``)."""
        order = self.orders.get(purchase_order_id) or {}
        return json.dumps(
            {
                "source": {
                    "eventType": event_type,
                    "eventTime": "2026-11-29T06:00:00.000Z",
                    "eventId": event_id or str(uuid.uuid4()),
                },
                "payload": {
                    "partnerId": "10001234",
                    "purchaseOrderId": purchase_order_id,
                    "customerOrderId": order.get("customerOrderId", ""),
                    "orderDate": order.get("orderDate", 0),
                    "orderLines": [],
                },
            }
        ).encode()

    def token(self, req, m):
        if not req.headers.get("Authorization", "").startswith("Basic "):
            return Response(401, {"error": "invalid_client"})
        token = "eyJ" + uuid.uuid4().hex
        self.tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 900}

    def list_orders(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        if "cursor" in req.query:
            rest = self.cursors.pop(req.query["cursor"], [])
        else:
            since = req.query.get("lastModifiedStartDate", "")
            rest = sorted(
                (o for o in self.orders.values() if o.get("lastModified", "") >= since),
                key=lambda o: o.get("lastModified", ""),
            )
        chunk, rest = rest[: self.page_size], rest[self.page_size :]
        meta = {"totalCount": len(chunk) + len(rest), "limit": self.page_size}
        if rest:
            token = uuid.uuid4().hex
            self.cursors[token] = rest
            meta["nextCursor"] = "?" + urlencode({"cursor": token, "limit": self.page_size})
        return {"list": {"meta": meta, "elements": {"order": chunk}}}

    def ack(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        self.acks.append(m.group(1))
        line = self.orders[m.group(1)]["orderLines"]["orderLine"][0]
        line["orderLineStatuses"]["orderLineStatus"][0]["status"] = "Acknowledged"
        return {"order": self.orders[m.group(1)]}

    def ship(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        self.ships.append((m.group(1), req.json()))
        return {"order": self.orders.get(m.group(1), {})}

    def cancel(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        self.cancels.append((m.group(1), req.json()))
        return {"order": self.orders.get(m.group(1), {})}

    def put_inventory(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        body = req.json()
        self.inventory[body["sku"]] = body["quantity"]["amount"]
        return body
