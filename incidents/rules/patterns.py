"""Suppression-rule patterns: validation at save time and bounded matching at ingest.

Pure functions (no models), so `incidents.models` can validate a rule in `save()`.

User-written regexes run on RE2 (google-re2): its matching time is linear in the text, and
it refuses backreferences and lookarounds at compile time instead of backtracking. Linear is
not free: the cost is text length x program size, so both are capped here (pattern length,
compiled program size, matched text length)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

import re2
from django.core.exceptions import ValidationError

from integrations.formats.base import text

FIELDS = ("summary", "source", "component", "group", "class", "severity", "details")
LABEL_PREFIX = "label:"
OPERATORS = ("contains", "equals", "regex", "not_contains", "not_equals", "not_regex")
REGEX_OPERATORS = ("regex", "not_regex")
MAX_PATTERN_CHARS = 512
# RE2 instructions. Real suppression patterns compile to < 150; a pattern far above this is
# a counted repetition (`a{0,1000}`) whose cost multiplies every character matched.
MAX_PROGRAM_SIZE = 1000
# Only the start of a field is matched: a 1 MB details blob costs the same as 64 KiB.
MAX_MATCH_CHARS = 64 * 1024

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the user's answer, not a log line
# Rules need a yes or no, never groups: without captures RE2 stays on its fast DFA engine
# (measured ~100x faster on `(.*a){20}` over 64 KiB).
_OPTIONS.never_capture = True

# What RE2 says -> what the person who wrote the pattern should read.
_RE2_HINTS = (
    ("invalid perl operator: (?=", "lookahead (?=...) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!...) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...) is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...) is not supported"),
)


def _explain(pattern: str, error: Exception) -> str:
    detail = error.args[0] if error.args else str(error)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    if "(?P=" in pattern or "\\k<" in pattern:
        return f"named backreferences are not supported: patterns run on RE2, a linear-time engine ({detail})"
    for needle, hint in _RE2_HINTS:
        if detail.startswith(needle):
            return f"{hint}: patterns run on RE2, a linear-time engine ({detail})"
    if detail.startswith("invalid escape sequence: \\") and detail[-1:].isdigit():
        return f"backreferences are not supported: patterns run on RE2, a linear-time engine ({detail})"
    return f"invalid regular expression: {detail}"


def compile_regex(pattern: str):
    """Compile a user pattern with RE2, or raise ValueError saying why in plain words."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a pattern is at most {MAX_PATTERN_CHARS} characters (this one has {len(pattern)})")
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        raise ValueError(_explain(pattern, error)) from None
    size = compiled._regexp.ProgramSize()
    if size > MAX_PROGRAM_SIZE:
        raise ValueError(
            f"pattern too complex: it compiles to {size} RE2 instructions, at most {MAX_PROGRAM_SIZE} "
            "are allowed (large counted repetitions such as {0,500} cost the most)"
        )
    return compiled


def field_error(name: str) -> str | None:
    if name in FIELDS:
        return None
    if name.startswith(LABEL_PREFIX) and name[len(LABEL_PREFIX):].strip():
        return None
    return f"unknown field {name!r}: use one of {', '.join(FIELDS)}, or label:<name>"


def rule_errors(field_name: str, operator: str, value: str) -> dict[str, str]:
    """Every problem of a rule, by model field name (empty when the rule is valid)."""
    errors = {}
    problem = field_error(field_name or "")
    if problem:
        errors["field"] = problem
    if operator not in OPERATORS:
        errors["operator"] = f"unknown operator {operator!r}: use one of {', '.join(OPERATORS)}"
    value = value or ""
    if len(value) > MAX_PATTERN_CHARS:
        errors["value"] = f"a value is at most {MAX_PATTERN_CHARS} characters (this one has {len(value)})"
    elif operator in REGEX_OPERATORS:
        try:
            compile_regex(value)
        except ValueError as error:
            errors["value"] = str(error)
    return errors


def validate_rule(field_name: str, operator: str, value: str) -> None:
    errors = rule_errors(field_name, operator, value)
    if errors:
        raise ValidationError(errors)


class EventText:
    """The matchable text of one event's fields, computed once per field and capped."""

    def __init__(self, fields: dict[str, Any]):
        self._fields = fields
        self._text: dict[str, str] = {}
        self._folded: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self._text:
            if name.startswith(LABEL_PREFIX):
                labels = self._fields.get("labels") or {}
                raw = labels.get(name[len(LABEL_PREFIX):], "") if isinstance(labels, dict) else ""
            else:
                raw = self._fields.get(name)
            # A missing field or label matches as the empty string.
            self._text[name] = text(raw)[:MAX_MATCH_CHARS]
        return self._text[name]

    def folded(self, name: str) -> str:
        if name not in self._folded:
            self._folded[name] = self.get(name).casefold()
        return self._folded[name]


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready for the hot path: validated, compiled, scope resolved to ids."""

    id: int
    order: int
    field: str
    operator: str
    value: str
    team_id: int | None = None
    integration_key_id: int | None = None
    expires_at: datetime | None = None
    regex: Any = None
    folded_value: str = dataclass_field(default="", repr=False)

    @classmethod
    def build(cls, *, id, order, field, operator, value, team_id=None, integration_key_id=None,
              expires_at=None) -> CompiledRule:
        """Raises ValueError for a rule that cannot run (written around validation)."""
        if rule_errors(field, operator, value):
            raise ValueError("; ".join(rule_errors(field, operator, value).values()))
        regex = compile_regex(value) if operator in REGEX_OPERATORS else None
        return cls(id=id, order=order, field=field, operator=operator, value=value, team_id=team_id,
                   integration_key_id=integration_key_id, expires_at=expires_at, regex=regex,
                   folded_value=value.casefold())

    @property
    def scope(self) -> str:
        if self.integration_key_id is not None:
            return f"key #{self.integration_key_id}"
        if self.team_id is not None:
            return f"team #{self.team_id}"
        return "everywhere"

    def applies_to(self, key_id: int, team_id: int | None, now: datetime) -> bool:
        if self.expires_at is not None and self.expires_at <= now:
            return False
        if self.integration_key_id is not None:
            return self.integration_key_id == key_id
        if self.team_id is not None:
            return self.team_id == team_id
        return True

    def matches(self, event_text: EventText) -> bool:
        """contains/equals ignore case; a regex is matched as written (add (?i) to ignore case)."""
        operator = self.operator
        if operator in ("contains", "not_contains"):
            hit = self.folded_value in event_text.folded(self.field)
        elif operator in ("equals", "not_equals"):
            hit = event_text.folded(self.field) == self.folded_value
        else:
            hit = _search(self.regex, event_text.get(self.field))
        return not hit if operator.startswith("not_") else hit

    def describe(self) -> str:
        return f"{self.field} {self.operator.replace('_', ' ')} {self.value[:100]!r}"

    def explain(self, event_text: EventText) -> Explanation:
        """Why this rule's condition holds or fails for this event, in words, for the rule
        tester. The verdict is `matches()` itself, so the tester can never disagree with
        ingest; the words only add where the text was found, or what the field held."""
        hit = self.matches(event_text)
        seen = event_text.get(self.field)
        shown = repr(seen[:EXPLAIN_CHARS]) + ("…" if len(seen) > EXPLAIN_CHARS else "")
        if not seen:
            shown = "empty (the event has no value there)"
        base = self.operator.removeprefix("not_")
        value = repr(self.value[:100])
        if base == "contains":
            at = event_text.folded(self.field).find(self.folded_value)
            found = at >= 0
            detail = (f"{self.field} contains {value} (at character {at + 1}, ignoring case): {shown}" if found
                      else f"{self.field} does not contain {value}: {shown}")
        elif base == "equals":
            found = event_text.folded(self.field) == self.folded_value
            detail = (f"{self.field} equals {value} (ignoring case)" if found
                      else f"{self.field} is {shown}, not {value}")
        else:
            match = _find(self.regex, seen)
            found = match is not None
            detail = (f"{self.field} matches /{self.value[:100]}/ at {match.group(0)[:EXPLAIN_CHARS]!r}: {shown}"
                      if found else f"{self.field} does not match /{self.value[:100]}/: {shown}")
        return Explanation(hit=hit, field=self.field, text=seen[:EXPLAIN_CHARS], why=detail)


# How much of a field the tester quotes back.
EXPLAIN_CHARS = 200


@dataclass(frozen=True)
class Explanation:
    hit: bool  # the rule's condition holds: exactly `CompiledRule.matches()`
    field: str
    text: str  # what the rule looked at (the start of it)
    why: str


def _find(regex, value: str):
    try:
        return regex.search(value)
    except UnicodeEncodeError:
        # A lone surrogate from a JSON body cannot be UTF-8 encoded for RE2: match the rest.
        return regex.search(value.encode("utf-8", "replace").decode("utf-8"))


def _search(regex, value: str) -> bool:
    return _find(regex, value) is not None
