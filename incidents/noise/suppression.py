"""Suppression rules: a trigger that matches an enabled, unexpired rule in scope is logged
with outcome `suppressed` and the rule that matched; it opens no incident and pages nobody.

Rules are checked in one defined order, `(order, id)`, whatever their scope (everywhere, a
team, one integration key); the first match wins. The hot path costs at most one query for
the rules (none while the per-process cache is warm) plus one UPDATE of the matching rule's
hit counter."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from incidents.models import Event, SuppressionRule
from incidents.rules import cache as rule_cache
from incidents.rules.patterns import CompiledRule, EventText
from integrations.formats.base import NormalizedEvent
from integrations.models import IntegrationKey

logger = logging.getLogger("vigil.suppression")


@dataclass
class RuleSet:
    """The enabled rules of the whole installation, indexed by scope, each list in order."""

    everywhere: list[CompiledRule] = field(default_factory=list)
    by_team: dict[int, list[CompiledRule]] = field(default_factory=dict)
    by_key: dict[int, list[CompiledRule]] = field(default_factory=dict)
    size: int = 0

    def add(self, rule: CompiledRule) -> None:
        self.size += 1
        if rule.integration_key_id is not None:
            self.by_key.setdefault(rule.integration_key_id, []).append(rule)
        elif rule.team_id is not None:
            self.by_team.setdefault(rule.team_id, []).append(rule)
        else:
            self.everywhere.append(rule)

    def in_scope(self, key_id: int, team_id: int | None) -> Iterator[CompiledRule]:
        """The rules that can apply to this key, in (order, id) across all three scopes."""
        lists = [self.everywhere, self.by_key.get(key_id, [])]
        if team_id is not None:
            lists.append(self.by_team.get(team_id, []))
        return heapq.merge(*lists, key=lambda rule: (rule.order, rule.id))


@dataclass
class Suppression:
    rule_id: int
    reason: str


def load_rules(now: datetime | None = None) -> RuleSet:
    """One query. A row that cannot run (written around validation) is skipped loudly."""
    now = now or timezone.now()
    rows = (
        SuppressionRule.objects.filter(enabled=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("order", "id")
        .values_list("id", "order", "field", "operator", "value", "team_id", "integration_key_id", "expires_at")
    )
    ruleset = RuleSet()
    for id_, order, field_name, operator, value, team_id, key_id, expires_at in rows:
        try:
            ruleset.add(CompiledRule.build(
                id=id_, order=order, field=field_name, operator=operator, value=value,
                team_id=team_id, integration_key_id=key_id, expires_at=expires_at,
            ))
        except ValueError as error:
            logger.error("suppression rule #%s cannot run and is skipped: %s", id_, error)
    return ruleset


def active_rules() -> RuleSet:
    return rule_cache.get(load_rules, settings.SUPPRESSION_RULES_CACHE_SECONDS)


def first_match(rules: Iterable[CompiledRule], fields: dict, *, key_id: int, team_id: int | None,
                now: datetime) -> CompiledRule | None:
    event_text = EventText(fields)
    for rule in rules:
        if rule.applies_to(key_id, team_id, now) and rule.matches(event_text):
            return rule
    return None


def check(key: IntegrationKey, event: NormalizedEvent, now: datetime | None = None) -> Suppression | None:
    """The rule that suppresses this trigger, with its hit counted, or None."""
    now = now or timezone.now()
    for _attempt in range(2):
        ruleset = active_rules()
        if not ruleset.size:
            return None
        rule = first_match(ruleset.in_scope(key.pk, key.team_id), event.to_log(),
                           key_id=key.pk, team_id=key.team_id, now=now)
        if rule is None:
            return None
        # F(): concurrent hits add up. The row filter doubles as a freshness check: a rule
        # deleted or disabled since it was cached updates nothing, and we read the rules again
        # instead of suppressing with a stale one.
        counted = SuppressionRule.objects.filter(pk=rule.id, enabled=True).update(
            hit_count=F("hit_count") + 1, last_hit_at=now
        )
        if counted:
            return Suppression(rule.id, f"suppressed by rule #{rule.id} ({rule.describe()}; scope {rule.scope})")
        rule_cache.invalidate()
    return None


# --- "test this rule" (admin) -------------------------------------------------------------


def events_in_scope(rule: SuppressionRule, limit: int):
    """The last `limit` triggers this rule could have seen."""
    events = Event.objects.filter(action=Event.Action.TRIGGER).select_related("integration_key")
    if rule.integration_key_id is not None:
        events = events.filter(integration_key_id=rule.integration_key_id)
    elif rule.team_id is not None:
        events = events.filter(integration_key__team_id=rule.team_id)
    return events.order_by("-id")[:limit]


def dry_run(rule: SuppressionRule, events: Iterable[Event]) -> list[tuple[Event, bool, str]]:
    """(event, would be suppressed, the text the rule looked at) for each event, ignoring the
    rule's enabled flag and expiry: the point is to see what it would do."""
    compiled = CompiledRule.build(
        id=rule.pk or 0, order=rule.order, field=rule.field, operator=rule.operator, value=rule.value,
    )
    results = []
    for event in events:
        event_text = EventText(event.normalized or {})
        results.append((event, compiled.matches(event_text), event_text.get(rule.field)[:300]))
    return results
