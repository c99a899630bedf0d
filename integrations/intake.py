"""The webhook intake in front of Django (``fulfil.wsgi``): the platforms' signed order webhooks are answered
by a few lines of WSGI instead of Django's request, middleware and URL machinery.

A Shopify webhook POST (``/integrations/shopify/webhooks/``) is: read the body, verify the HMAC (a bad one is
a 401 and stores nothing), one prepared ``INSERT … ON CONFLICT (platform, event_id) DO NOTHING`` on this
thread's own autocommit Postgres connection (committed before the 200; a re-delivery inserts nothing), a
coalesced drain kick (``inbox.kick_drain``) and "ok". Exactly what ``webhooks.shopify_webhook`` does through
Django (same row, same kept headers, same answers), at a fraction of the CPU: under load the accept path is
most of the web tier's work.

Anything else — other paths and methods, a request without a Content-Length or over Django's upload limit,
plain HTTP when ``SECURE_SSL_REDIRECT`` wants HTTPS, SQLite — goes to Django unchanged (WooCommerce's
webhooks and Shopify's fulfillment-service callback take ``WebhookFastPathMiddleware``'s short path there).
"""

from __future__ import annotations

import json
import logging
import threading

import psycopg
from django.conf import settings
from django.db import connection as django_db
from psycopg import pq

from integrations import conf, inbox
from integrations.base import WebhookSignatureError
from integrations.shopify.client import ShopifyChannel
from integrations.webhooks import KEPT_HEADERS

log = logging.getLogger(__name__)

SHOPIFY_PATH = "/integrations/shopify/webhooks/"

# inbox's INSERT … ON CONFLICT DO NOTHING RETURNING id, prepared once per connection ($1…$7 for %s)
_STATEMENT = b"fulfil_inbox_insert"
_SQL = inbox._INSERT_INBOX
for _n in range(1, _SQL.count("%s") + 1):
    _SQL = _SQL.replace("%s", f"${_n}", 1)
_SQL_BYTES = _SQL.encode()

_KEPT = tuple((h, "HTTP_" + h.upper().replace("-", "_")) for h in KEPT_HEADERS)
_SIGNED = ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Event-Id")
_SIGNED_META = tuple((h, "HTTP_" + h.upper().replace("-", "_")) for h in _SIGNED)


def _response(start_response, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class _Connections(threading.local):
    conn: psycopg.Connection | None = None
    prepared: psycopg.Connection | None = None  # the connection the statement is prepared on


class WebhookIntake:
    """WSGI middleware: the Shopify webhook POST here, everything else to ``app`` (Django)."""

    def __init__(self, app):
        self.app = app
        self._local = _Connections()
        self._all: list[psycopg.Connection] = []  # for close() (tests)
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if (
            environ.get("PATH_INFO") == SHOPIFY_PATH
            and environ.get("REQUEST_METHOD") == "POST"
            and self._takes(environ)
        ):
            return self.shopify(environ, start_response)
        return self.app(environ, start_response)

    def _takes(self, environ) -> bool:
        """Requests Django would treat specially go to Django."""
        if django_db.vendor != "postgresql":
            return False
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return False
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length < 0 or (limit is not None and length > limit):
            return False  # Django answers 400 (RequestDataTooBig)
        return not settings.SECURE_SSL_REDIRECT or _secure(environ)  # else Django redirects to HTTPS

    def shopify(self, environ, start_response):
        length = int(environ["CONTENT_LENGTH"])
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {h: environ[key] for h, key in _SIGNED_META if key in environ}
        try:
            hook = ShopifyChannel.verify_webhook(
                headers=headers, body=body, secret=conf.get("SHOPIFY_API_SECRET")
            )
        except WebhookSignatureError:
            return _response(start_response, "401 Unauthorized", b"invalid signature")
        kept = {h: environ[key] for h, key in _KEPT if key in environ}
        params = [  # text-format parameters of the prepared INSERT (None: NULL)
            b"shopify",
            hook.event_id[:255].encode(),
            hook.account_id[:255].encode(),
            None,
            hook.topic[:100].encode(),
            json.dumps(kept).encode(),
            body.decode("utf-8", errors="replace").encode(),
        ]
        try:
            inserted = self._insert(params)
        except psycopg.Error:
            log.warning("integrations: webhook intake could not store a webhook", exc_info=True)
            return _response(start_response, "503 Service Unavailable", b"try again")
        if inserted:
            inbox.kick_drain()
        return _response(start_response, "200 OK", b"ok")

    def _insert(self, params) -> bool:
        """The inbox INSERT on this thread's connection (autocommit: committed when it returns); True when the
        drain should be kicked. A connection that turns out broken is replaced and the INSERT tried once more
        (the unique key makes that safe)."""
        for attempt in (1, 2):
            conn = self._local.conn
            try:
                if conn is None or conn.closed:
                    conn = self._local.conn = self._connect()
                # (on the retry a conflict may be our own first INSERT, committed before the connection broke:
                # kick the drain for it all the same)
                return _exec_insert(self._local, conn, params) or attempt == 2
            except psycopg.OperationalError:
                self._discard(conn)
                if attempt == 2:
                    raise
        return False  # not reached

    def _connect(self) -> psycopg.Connection:
        params = django_db.get_connection_params()
        for django_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(django_only, None)
        conn = psycopg.connect(**params, autocommit=True)
        with self._lock:
            self._all.append(conn)
        return conn

    def _discard(self, conn) -> None:
        self._local.conn = self._local.prepared = None
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            conn.close()

    def close(self) -> None:
        """Close every connection this intake opened (tests; a worker's exit closes them anyway)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = _Connections()


def _exec_insert(local: _Connections, conn: psycopg.Connection, params: list) -> bool:
    """The INSERT through libpq directly (``PQexecPrepared``, which releases the GIL while it waits): psycopg's
    cursor machinery around one statement cost more CPU than the rest of the request. True when a row was
    inserted (False: a re-delivery). Prepared once per connection unless ``WEBHOOK_INTAKE_PREPARE`` is "0"."""
    pgconn = conn.pgconn
    if conf.get("WEBHOOK_INTAKE_PREPARE") == "0":
        result = pgconn.exec_params(_SQL_BYTES, params)
        _check(conn, result, pq.ExecStatus.TUPLES_OK)
        return result.ntuples > 0
    if local.prepared is not conn:
        _check(conn, pgconn.prepare(_STATEMENT, _SQL_BYTES), pq.ExecStatus.COMMAND_OK)
        local.prepared = conn
    result = pgconn.exec_prepared(_STATEMENT, params)
    _check(conn, result, pq.ExecStatus.TUPLES_OK)
    return result.ntuples > 0


def _check(conn: psycopg.Connection, result, expected) -> None:
    if result.status == expected:
        return
    message = (result.error_message or conn.pgconn.error_message or b"").decode("utf-8", "replace").strip()
    if conn.pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError(message or "the connection is broken")
    raise psycopg.DatabaseError(message or f"unexpected result {result.status}")


def _secure(environ) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    header = settings.SECURE_PROXY_SSL_HEADER
    if header:
        name, value = header
        return environ.get(name, "").split(",")[0].strip() == value
    return False
