"""The small typed HTTP transport for platforms without a usable maintained client (eBay, Walmart): httpx with
explicit timeouts, a configurable base URL, the per-connection token bucket, and typed errors."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, ClassVar

import httpx
from django.utils import timezone

from integrations import conf, ratelimit
from integrations.base import RejectedProviderError, RetryableProviderError


class HttpTransport:
    def __init__(
        self, *, base_url: str, platform: str, connection_id: int | None, timeout: float | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.platform = platform
        self.connection_id = connection_id
        t = timeout or conf.timeout()
        self.client = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(t, connect=min(t, 5.0)))

    def request(self, method: str, path: str, *, label: str = "", **kwargs: Any) -> httpx.Response:
        if self.connection_id is not None:
            wait = ratelimit.acquire(connection_id=self.connection_id, platform=self.platform)
            if wait:
                raise RetryableProviderError(
                    f"our {self.platform} request budget is spent; waiting", retry_after=wait
                )
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryableProviderError(f"{label or self.platform} timed out") from exc
        except httpx.TransportError as exc:
            raise RetryableProviderError(f"Could not reach {label or self.platform}: {exc}") from exc
        code = response.status_code
        if code == 429 or code >= 500:
            retry = response.headers.get("Retry-After")
            try:
                retry_after = float(retry) if retry else None
            except ValueError:
                retry_after = None
            raise RetryableProviderError(
                f"{label or self.platform} answered {code}", retry_after=retry_after, status=code
            )
        if code in (401, 403):
            raise RejectedProviderError(
                f"{label or self.platform} refused our credentials ({code}) — reconnect the account",
                status=code,
            )
        if code >= 400:
            raise RejectedProviderError(
                f"{label or self.platform} rejected the request ({code}): {response.text[:300]}", status=code
            )
        return response

    def close(self) -> None:
        self.client.close()


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value for HTTP Basic credentials (OAuth token endpoints)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class HttpChannel:
    """What the httpx-based connectors share: credentials, the transport at the connection's base URL, and
    the rule for when the stored OAuth access token must be refreshed."""

    platform: ClassVar[str]
    default_base_url: ClassVar[str]
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=5)

    def __init__(self, connection, *, timeout: float | None = None):
        from integrations.services import connection_credentials

        self.connection = connection
        self.creds = connection_credentials(connection)
        self.http = HttpTransport(
            base_url=connection.base_url or self.default_base_url,
            platform=self.platform,
            connection_id=connection.pk,
            timeout=timeout,
        )

    def token_is_fresh(self) -> bool:
        conn = self.connection
        return bool(
            conn.access_token
            and conn.token_expires_at
            and conn.token_expires_at - self.refresh_margin > timezone.now()
        )
