"""Sending and checking phone verification codes by SMS.

``settings.SMS_BACKEND`` names the backend class. Two kinds exist behind one small interface:

- ``ConsoleSmsBackend`` (development, tests): Fulfil makes the 6-digit code, keeps only its hash and
  "sends" the text to the log and to ``accounts.sms.outbox`` (like Django's ``mail.outbox``).
- ``TwilioVerifyBackend`` (production): Twilio Verify makes, sends and checks the code. It speaks Twilio's
  REST wire format (form-encoded POSTs with basic auth) through httpx, at ``settings.TWILIO_VERIFY_BASE``
  so tests reach a local fake.

Errors are typed: ``SmsUnavailable`` (network, 5xx, 429: try again later) and ``SmsRejected`` (the provider
refused the number or the request).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

CODE_LENGTH = 6

# Messages "sent" by the console backend, newest last: (phone, text). Tests read and clear it.
outbox: list[tuple[str, str]] = []


class SmsError(Exception):
    pass


class SmsUnavailable(SmsError):
    """Network trouble, a 5xx or a 429 from the provider: retry later."""


class SmsRejected(SmsError):
    """The provider refused the request (bad number, landline, blocked country...)."""


@dataclass(frozen=True)
class Started:
    """What a backend returns when a code was sent. ``code_hash`` is set when Fulfil made the code;
    ``reference`` is the provider's id of the verification."""

    code_hash: str = ""
    reference: str = ""


def hash_code(*, phone: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


class SmsBackend:
    """The interface. ``start`` sends a code to ``phone`` (E.164); ``check`` says whether ``code`` is the one
    sent. Neither stores anything: expiry and attempt counting are the service's job."""

    def start(self, *, phone: str) -> Started:
        raise NotImplementedError

    def check(self, *, phone: str, code: str, started: Started) -> bool:
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    def start(self, *, phone: str) -> Started:
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))
        text = f"Your Fulfil verification code is {code}. It expires in 10 minutes."
        outbox.append((phone, text))
        log.info("SMS to %s: %s", phone, text)
        return Started(code_hash=hash_code(phone=phone, code=code))

    def check(self, *, phone: str, code: str, started: Started) -> bool:
        return hmac.compare_digest(started.code_hash, hash_code(phone=phone, code=code))


class TwilioVerifyBackend(SmsBackend):
    """Twilio Verify v2: ``POST /v2/Services/{sid}/Verifications`` (To, Channel=sms) and
    ``POST /v2/Services/{sid}/VerificationCheck`` (To, Code); answers ``status`` pending/approved."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        service_sid: str | None = None,
        timeout: float = 10.0,
    ):
        self.base_url = (base_url or settings.TWILIO_VERIFY_BASE).rstrip("/")
        self.account_sid = account_sid if account_sid is not None else settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token if auth_token is not None else settings.TWILIO_AUTH_TOKEN
        self.service_sid = service_sid if service_sid is not None else settings.TWILIO_VERIFY_SERVICE_SID
        self.timeout = timeout

    def _post(self, path: str, data: dict[str, str]) -> dict:
        url = f"{self.base_url}/v2/Services/{self.service_sid}/{path}"
        try:
            response = httpx.post(
                url, data=data, auth=(self.account_sid, self.auth_token), timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise SmsUnavailable(f"Twilio Verify unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise SmsUnavailable(f"Twilio Verify answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise SmsUnavailable("Twilio Verify answered something that is not JSON") from exc
        if response.status_code >= 400:
            raise SmsRejected(body.get("message") or f"Twilio Verify refused ({response.status_code})")
        return body

    def start(self, *, phone: str) -> Started:
        body = self._post("Verifications", {"To": phone, "Channel": "sms"})
        return Started(reference=body.get("sid", ""))

    def check(self, *, phone: str, code: str, started: Started) -> bool:
        try:
            body = self._post("VerificationCheck", {"To": phone, "Code": code})
        except SmsRejected:  # 404: the verification expired, was approved or ran out of attempts
            return False
        return body.get("status") == "approved"


def get_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
