import uuid

from asgiref.local import Local

_local = Local()


def current_request_id() -> str:
    return getattr(_local, "request_id", "")


def set_request_id(value: str) -> None:
    _local.request_id = value


class RequestIdMiddleware:
    """Gives every request an id (or keeps the proxy's ``X-Request-ID``) for the audit trail and logs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        request.request_id = rid
        set_request_id(rid)
        try:
            response = self.get_response(request)
        finally:
            set_request_id("")
        response["X-Request-ID"] = rid
        return response
