"""Reading a request body as one JSON object, whatever the Content-Type says, and refusing
everything malformed with a message that names the problem (never a 500)."""

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
# Legal in a JSON string, but PostgreSQL stores neither NUL nor a lone UTF-16 surrogate in
# text or jsonb: each becomes U+FFFD, so the alert is kept instead of failing with a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BodyError(Exception):
    """The body is not a JSON object. `parse_error` marks unparseable JSON (PagerDuty
    answers that case with its own envelope)."""

    def __init__(self, message: str, *, parse_error: bool):
        self.message = message
        self.parse_error = parse_error
        super().__init__(message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def parse_json(raw: bytes) -> Any:
    if not raw or not raw.strip():
        raise BodyError("request body is empty", parse_error=True)
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BodyError("request body starts with a byte-order mark", parse_error=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not valid UTF-8 (byte {exc.start})", parse_error=True) from None
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise BodyError(f"JSON nesting is deeper than {MAX_DEPTH} levels", parse_error=True) from None
    except ValueError as exc:  # JSONDecodeError, int digit limit, our hooks
        raise BodyError(f"JSON parse error: {str(exc)[:200]}", parse_error=True) from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise BodyError(f"JSON nesting is deeper than {MAX_DEPTH} levels", parse_error=True)
    return _storable(value)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def parse_json_object(raw: bytes) -> dict:
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise BodyError(
            f"request body must be a JSON object, not {type(value).__name__ if value is not None else 'null'}",
            parse_error=False,
        )
    return value
