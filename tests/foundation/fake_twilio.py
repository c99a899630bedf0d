"""A local fake of Twilio Verify v2 on 127.0.0.1: the same paths, form-encoded bodies, basic auth, JSON
answers and error shapes as https://verify.twilio.com. Tests read the code it "texted" from ``.sent``."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
SERVICE_SID = "VA" + "b2" * 16


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeTwilioVerify:
    def __init__(self):
        self.pending: dict[str, dict] = {}  # phone -> verification
        self.sent: list[tuple[str, str]] = []  # (phone, code)
        self.requests: list[dict] = []
        self.fail_with: int | None = None  # answer every call with this status (e.g. 503)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def last_code(self, phone: str) -> str:
        return next(code for to, code in reversed(self.sent) if to == phone)

    def _resource(self, v: dict, **extra) -> dict:
        return {
            "sid": v["sid"],
            "service_sid": SERVICE_SID,
            "account_sid": ACCOUNT_SID,
            "to": v["to"],
            "channel": "sms",
            "status": v["status"],
            "valid": v["status"] == "approved",
            "amount": None,
            "payee": None,
            "date_created": v["date_created"],
            "date_updated": _now(),
            **extra,
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: int, message: str) -> None:
                self._send(
                    status,
                    {
                        "code": code,
                        "message": message,
                        "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        "status": status,
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                fake.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type", ""),
                        "authorization": self.headers.get("Authorization", ""),
                        "form": form,
                    }
                )
                expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._error(401, 20003, "Authenticate")
                if fake.fail_with:
                    return self._error(fake.fail_with, 20500, "Internal Server Error")
                if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    return self._error(400, 20001, "Request body must be form-encoded")
                prefix = f"/v2/Services/{SERVICE_SID}/"
                to = form.get("To", "")
                if self.path == prefix + "Verifications":
                    if not (to.startswith("+") and to[1:].isdigit()):
                        return self._error(400, 60200, "Invalid parameter `To`: " + to)
                    if form.get("Channel") != "sms":
                        return self._error(400, 60200, "Invalid parameter: Channel")
                    code = "".join(secrets.choice("0123456789") for _ in range(6))
                    v = {
                        "sid": "VE" + secrets.token_hex(16),
                        "to": to,
                        "code": code,
                        "status": "pending",
                        "checks": 0,
                        "date_created": _now(),
                    }
                    fake.pending[to] = v
                    fake.sent.append((to, code))
                    attempts = [
                        {"time": _now(), "channel": "sms", "attempt_sid": "VL" + secrets.token_hex(16)}
                    ]
                    return self._send(
                        201,
                        fake._resource(
                            v,
                            lookup={"carrier": None},
                            send_code_attempts=attempts,
                            url=f"https://verify.twilio.com{prefix}Verifications/{v['sid']}",
                        ),
                    )
                if self.path == prefix + "VerificationCheck":
                    v = fake.pending.get(to)
                    if v is None or v["status"] != "pending":
                        return self._error(
                            404, 20404, f"The requested resource {prefix[3:]}VerificationCheck was not found"
                        )
                    v["checks"] += 1
                    if v["checks"] > 5:
                        v["status"] = "max_attempts_reached"
                        return self._error(429, 60202, "Max check attempts reached")
                    if form.get("Code") == v["code"]:
                        v["status"] = "approved"
                    return self._send(200, fake._resource(v))
                return self._error(404, 20404, f"The requested resource {self.path} was not found")

        return Handler
