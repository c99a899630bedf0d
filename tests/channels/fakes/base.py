"""The shared fake-server machinery: routing, JSON answers, fault injection, a request log."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    retry_after: float | None = None
    delay: float = 0.0
    path_contains: str = ""


class FakeServer:
    """Subclasses register routes with ``self.route(method, regex, handler)``; handlers take (request, match)
    and return a Response (or a JSON-able body)."""

    def __init__(self):
        self.routes: list[tuple[str, re.Pattern, Callable]] = []
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self.httpd: ThreadingHTTPServer | None = None
        self.setup_routes()

    # --- configuration ---------------------------------------------------------------------------
    def setup_routes(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def route(self, method: str, pattern: str, handler: Callable) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), handler))

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: float | None = None, path_contains: str = ""
    ):
        with self.lock:
            self.faults.extend(Fault(status, retry_after, 0.0, path_contains) for _ in range(times))

    def slow_next(self, seconds: float, *, times: int = 1, path_contains: str = ""):
        with self.lock:
            self.faults.extend(Fault(200, None, seconds, path_contains) for _ in range(times))

    def calls(self, method: str | None = None, contains: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method) and contains in r.path]

    # --- lifecycle --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                return

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                req = Request(self.command, parts.path, query, dict(self.headers.items()), body)
                resp = server.dispatch(req)
                payload = (
                    b""
                    if resp.body is None
                    else (resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode())
                )
                self.send_response(resp.status)
                headers = {"Content-Type": "application/json", **resp.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def fault_body(self, status: int):
        return {"errors": f"injected {status}"}

    # --- dispatch ---------------------------------------------------------------------------------
    def dispatch(self, req: Request) -> Response:
        with self.lock:
            self.requests.append(req)
            fault = next((f for f in self.faults if f.path_contains in req.path), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status != 200:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return Response(fault.status, self.fault_body(fault.status), headers)
        for method, pattern, handler in self.routes:
            if method != req.method:
                continue
            match = pattern.match(req.path)
            if match:
                with self.lock:
                    result = handler(req, match)
                return result if isinstance(result, Response) else Response(200, result)
        return Response(404, {"errors": "Not Found"})
