"""What a log line knows about the work it belongs to: the request id of the request being
served, or of the request that enqueued the task being run. A leaf (contextvars only)."""

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("vigil_request_id", default="")
