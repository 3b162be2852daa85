"""The rule tester: which suppression rule would stop this event, and why each other rule
does or does not.

The verdict comes from the pipeline's own matcher: `suppression.load_rules` (the rows ingest
compiles) and `suppression.first_match` over `RuleSet.in_scope` (the order and scope ingest
uses). The per-rule lines add the reasons: a rule the pipeline skips (disabled, expired, out
of scope, cannot run) says so, and a rule it checks says which field held what, through
`CompiledRule.explain`, whose yes/no is `CompiledRule.matches` itself. Nothing is written:
no hit is counted, no event is logged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from incidents.models import SuppressionRule
from incidents.noise import suppression
from incidents.rules.patterns import CompiledRule, EventText
from integrations.formats.base import NormalizedEvent
from integrations.models import IntegrationKey


class State:
    SUPPRESSES = "suppresses"
    SHADOWED = "shadowed"  # matches, but an earlier rule suppresses first
    NO_MATCH = "no-match"
    DISABLED = "disabled"
    EXPIRED = "expired"
    OUT_OF_SCOPE = "out-of-scope"
    BROKEN = "broken"


@dataclass
class RuleVerdict:
    rule: SuppressionRule
    state: str
    why: str


@dataclass
class EventVerdict:
    event: NormalizedEvent
    suppressed_by: SuppressionRule | None
    headline: str
    rules: list[RuleVerdict] = field(default_factory=list)
    suppressed: bool = False


def _compiled(rule: SuppressionRule) -> CompiledRule:
    return CompiledRule.build(
        id=rule.pk, order=rule.order, field=rule.field, operator=rule.operator, value=rule.value,
        team_id=rule.team_id, integration_key_id=rule.integration_key_id, expires_at=rule.expires_at,
    )


def _scope_words(rule: SuppressionRule) -> str:
    if rule.integration_key_id is not None:
        return f"key {rule.integration_key.name}" if rule.integration_key else f"key #{rule.integration_key_id}"
    if rule.team_id is not None:
        return f"team {rule.team.name}" if rule.team else f"team #{rule.team_id}"
    return "everywhere"


def _rule_verdict(rule: SuppressionRule, event_text: EventText, key: IntegrationKey, winner_id: int | None,
                  now: datetime) -> RuleVerdict:
    try:
        compiled = _compiled(rule)
    except ValueError as error:
        return RuleVerdict(rule, State.BROKEN, f"cannot run, ingest skips it: {error}")
    if rule.expires_at is not None and rule.expires_at <= now:
        return RuleVerdict(rule, State.EXPIRED, f"expired at {rule.expires_at:%Y-%m-%d %H:%M} UTC: ingest skips it")
    if not compiled.applies_to(key.pk, key.team_id, now):
        return RuleVerdict(rule, State.OUT_OF_SCOPE, f"its scope is {_scope_words(rule)}, not key {key.name}")
    explanation = compiled.explain(event_text)
    if not rule.enabled:
        would = "would match" if explanation.hit else "would not match"
        return RuleVerdict(rule, State.DISABLED, f"disabled: ingest skips it ({would}: {explanation.why})")
    if not explanation.hit:
        return RuleVerdict(rule, State.NO_MATCH, f"no match: {explanation.why}")
    if rule.pk == winner_id:
        return RuleVerdict(rule, State.SUPPRESSES, f"matches because {explanation.why}")
    return RuleVerdict(rule, State.SHADOWED,
                       f"matches ({explanation.why}), but rule #{winner_id} comes first in the order")


def run(key: IntegrationKey, events: list[NormalizedEvent], rules: list[SuppressionRule],
        now: datetime) -> list[EventVerdict]:
    """One verdict per event as ingest would give it for `key` now. `rules` are the rows to
    explain (the viewer's, in any order; shown in ingest's order). One query (the rule set)."""
    ruleset = suppression.load_rules(now)
    by_id = {rule.pk: rule for rule in rules}
    ordered = sorted(rules, key=lambda rule: (rule.order, rule.pk))
    verdicts = []
    for event in events:
        if event.action != "trigger":
            verdicts.append(EventVerdict(
                event, None,
                f"not suppressed: this is a {event.action} event, and suppression acts on triggers only "
                "(an acknowledge or resolve always reaches its incident)",
            ))
            continue
        fields = event.to_log()
        # Exactly the pipeline's call (incidents.noise.suppression.check), minus the hit count.
        winner = suppression.first_match(ruleset.in_scope(key.pk, key.team_id), fields,
                                         key_id=key.pk, team_id=key.team_id, now=now)
        event_text = EventText(fields)
        lines = [_rule_verdict(rule, event_text, key, winner.id if winner else None, now) for rule in ordered]
        if winner is None:
            headline = "not suppressed: no enabled rule in scope matches; this trigger would open or update an incident"
            verdicts.append(EventVerdict(event, None, headline, lines))
            continue
        rule = by_id.get(winner.id)
        why = next((line.why for line in lines if line.rule.pk == winner.id), "")
        name = f"rule #{winner.id}" + (f" “{rule.name}”" if rule is not None and rule.name else "")
        if rule is None:  # a rule this viewer cannot see (another scope): say which, not what
            why = f"matches because {winner.describe()}"
        headline = f"suppressed: matches {name} because {why.removeprefix('matches because ')}"
        verdicts.append(EventVerdict(event, rule, headline, lines, suppressed=True))
    return verdicts
