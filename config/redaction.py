"""The one redaction rule for every log line (issue 11 item 4, issue 12 item 2; RELIABILITY T46).

`redact(text)` hides:
- integration keys anywhere, written plainly or JSON-escaped (`\\u0069k_...`);
- the key in every path-key door's path, read from the door specs (`integrations.formats.DOORS`),
  so a new door is covered without an edit here; the signed-link token (`/ack/<token>/`) and
  the calendar feed secret (`/oncall/calendar/<secret>.ics`);
- the path and query of absolute URLs (webhook URLs are credentials): scheme and host stay,
  user:password goes; for a scheme whose "host" is itself a token (apprise's
  `tgram://bottoken/...`) the host goes too; a request line logged beside its host
  (urllib3's `https://host:443 "POST /services/T/B/X HTTP/1.1"`) loses its path;
- Authorization/Token/Bearer/Basic values and password-like fields;
- the configured provider secrets (`SECRET_VALUE_SETTINGS`), wherever they appear.

`RedactFilter` sits on every handler: the root console handler (so httpx, urllib3, celery,
kombu and django.request lines are covered) and gunicorn's error and access logs
(`config.gunicorn_logging`). It redacts the message after %-formatting, every structured
field, the traceback and the stack, and stamps each record with the current request id."""

from __future__ import annotations

import logging
import re

from config import logcontext
from escalation.redaction import APPRISE_SERVER_SCHEMES
from integrations.formats import DOORS

MASK = "[redacted]"

# One path segment; a segment may not start a new path, query or quoted string.
_SEGMENT = r"[^/\s?#\"'<>]+"
# A path starts a value: nothing path-like before its slash (so `/integration/{key}` does not
# match inside `/api/integration/webhook/...`).
_PATH_START = r"(?<![\w.~%/-])"

# Schemes whose host is a server, kept in a redacted URL; any other scheme's "host" may be a
# token (apprise's `tgram://bottoken/chat`, `discord://webhook_id/token`), so it goes too.
_SERVER_SCHEMES = frozenset({
    "http", "https", "ws", "wss", "ftp", "ftps", "smtp", "smtps", "postgres", "postgresql",
    "redis", "rediss", "amqp", "amqps", "mailto", "tcp", "udp",
}) | APPRISE_SERVER_SCHEMES

_URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://(?:[^/\s@\"'<>]*@)?([^/\s?#\"'<>]*)([/?#][^\s\"'<>]*)?", re.I)


def _url(match: re.Match) -> str:
    scheme, host, rest = match.group(1), match.group(2), match.group(3)
    if scheme.lower() not in _SERVER_SCHEMES:
        return f"{scheme}://{MASK}"
    return f"{scheme}://{host}/{MASK}" if rest else f"{scheme}://{host}"


def _door_rules() -> list[tuple[re.Pattern[str], str]]:
    """One rule per door path that carries the key (`api/heartbeat/{key}`,
    `{key}/push-events`, ...): the path keeps its shape, the key becomes MASK. Longest routes
    first, so a shorter route never claims part of a longer one."""
    routes = sorted({p.route for spec in DOORS for p in spec.paths if p.has_path_key}, key=len, reverse=True)
    rules = []
    for route in routes:
        before, _, after = route.partition("{key}")
        pattern = _PATH_START + "(/" + re.escape(before) + ")" + _SEGMENT + "(" + re.escape(after) + ")"
        rules.append((re.compile(pattern), r"\1" + MASK + r"\2"))
    return rules


# A character of a key, written plainly or as a JSON escape (`\u0041`, doubled in a repr).
_ESCAPED = r"\\+u00[0-9a-fA-F]{2}"
_KEY_CHAR = rf"(?:[A-Za-z0-9]|{_ESCAPED})"
_KEY = re.compile(
    rf"(?<![A-Za-z0-9])(?:i|\\+u0069)(?:k|\\+u006[bB])(?:_|\\+u005[fF]){_KEY_CHAR}{{8,}}"
)

_RULES: list[tuple[re.Pattern[str], object]] = [
    # A request line logged beside its host (urllib3): the path is the webhook's secret.
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/\"'<>]+ \"[A-Z]+ )/[^\s\"]*", re.I), r"\1/" + MASK),
    (_URL, _url),
    *_door_rules(),
    # The signed acknowledge/resolve links and the personal calendar feed.
    (re.compile(_PATH_START + r"(/ack/)" + _SEGMENT), r"\1" + MASK),
    (re.compile(_PATH_START + r"(/oncall/calendar/)[^/\s?#\"'<>]+?(\.ics)"), r"\1" + MASK + r"\2"),
    # The emailed team invitation link (and a sign-in's `?next=` back to it).
    (re.compile(_PATH_START + r"(/invitations/)" + _SEGMENT), r"\1" + MASK),
    # Integration keys anywhere (a body, a header, a message), JSON-escaped or not.
    (_KEY, "ik_" + MASK),
    # Credentials in headers: "Authorization: Bearer x", "Token x", "Basic x".
    (re.compile(r"\b(Bearer|Token|Basic)(\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1\2" + MASK),
    (re.compile(r"(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?!Bearer\b|Token\b|Basic\b)[^\s\"',;&}]+", re.I),
     r"\1" + MASK),
    # password=..., "password": "...", secret/api_key/auth_token fields.
    (re.compile(r"((?:password|passwd|pwd|secret|api_key|auth_token|access_token|token)[\"']?\s*[:=]\s*[\"']?)"
                r"(?!\[redacted\])[^\s\"',;&}]+", re.I), r"\1" + MASK),
]

#: Settings whose values are credentials: redacted wherever they appear in a line.
SECRET_VALUE_SETTINGS = (
    "SECRET_KEY", "TWILIO_AUTH_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "VAPID_PRIVATE_KEY",
    "NTFY_TOKEN", "EMAIL_HOST_PASSWORD", "METRICS_TOKEN",
)
# Shorter values would hide ordinary words; a real credential is longer than this.
_MIN_SECRET_LENGTH = 8


def configured_secrets() -> list[str]:
    """The configured credential values, longest first. Read on each call (cheap attribute
    reads) so a changed setting is covered at once; empty before Django's settings load."""
    try:
        from django.conf import settings

        values = [getattr(settings, name, "") for name in SECRET_VALUE_SETTINGS]
        values.append(settings.DATABASES["default"].get("PASSWORD") or "")
    except Exception:  # settings not configured (a bare gunicorn master), or still importing
        return []
    return sorted({v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)


def redact(text: str) -> str:
    for secret in configured_secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value):
    """Strings redacted; dicts (keys and values), lists and tuples walked; anything else left as it is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(key): redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_exception_formatter = logging.Formatter()


class RedactFilter(logging.Filter):
    """On every handler: no secret reaches a line, whatever logged it."""

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
