"""The one redaction rule for every log line (issue 11 item 4; issue 12 extends it here).

`redact(text)` hides integration keys, the key or token in a door's or a signed link's path,
the path and query of absolute URLs (webhook URLs are credentials; scheme and host stay),
Authorization/Token/Bearer/Basic values and password-like fields. `RedactFilter` sits on the
root handler: it redacts the message after %-formatting, every structured field, the
traceback and the stack, and stamps each record with the current request id."""

from __future__ import annotations

import logging
import re

from config import logcontext

MASK = "[redacted]"

_PATH_END = r"[^/\s?#\"'<>]+"
_RULES: list[tuple[re.Pattern[str], str]] = [
    # Absolute URLs: keep scheme and host (without user:password), hide path, query, fragment.
    (re.compile(r"\b([a-z][a-z0-9+.-]*://)(?:[^/\s@\"'<>]*@)?([^/\s?#\"'<>]+)[/?#][^\s\"'<>]*", re.I),
     r"\1\2/" + MASK),
    # Doors with the key in the path, and the signed acknowledge/resolve links.
    (re.compile(r"(/api/integration/webhook/)" + _PATH_END), r"\1" + MASK),
    (re.compile(r"(/api/integrations/(?:alertmanager|grafana)/)" + _PATH_END), r"\1" + MASK),
    (re.compile(r"(/api/heartbeat/)" + _PATH_END), r"\1" + MASK),
    (re.compile(r"(?<!/api)(/integration/)" + _PATH_END), r"\1" + MASK),
    (re.compile(r"(/ack/)" + _PATH_END), r"\1" + MASK),
    # The emailed team invitation link (and a sign-in's `?next=` back to it).
    (re.compile(r"(?<![\w.~-])(/invitations/)" + _PATH_END), r"\1" + MASK),
    (re.compile(r"/" + _PATH_END + r"(/push-events)"), "/" + MASK + r"\1"),
    # Integration keys anywhere (a body, a header, a message).
    (re.compile(r"\bik_[A-Za-z0-9]{8,}"), "ik_" + MASK),
    # Credentials in headers: "Authorization: Bearer x", "Token x", "Basic x".
    (re.compile(r"\b(Bearer|Token|Basic)(\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1\2" + MASK),
    (re.compile(r"(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?!Bearer\b|Token\b|Basic\b)[^\s\"',;&}]+", re.I),
     r"\1" + MASK),
    # password=..., "password": "...", secret/api_key/auth_token fields.
    (re.compile(r"((?:password|passwd|pwd|secret|api_key|auth_token|access_token)[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s\"',;&}]+", re.I), r"\1" + MASK),
]


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value):
    """Strings redacted; dicts, lists and tuples walked; anything else left as it is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_exception_formatter = logging.Formatter()


class RedactFilter(logging.Filter):
    """On the root handler: no secret reaches a line, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = logcontext.request_id.get()
        try:
            message = record.getMessage()
        except Exception:  # a broken log call must not lose the line
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(_exception_formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, redact_value(value))
        return True
