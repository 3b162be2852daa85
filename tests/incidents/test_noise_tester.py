"""The rule tester (issue 14 item 4): vendor payloads read by their door's format, run
through the pipeline's matcher; the verdict per rule says which condition matched and why,
or which failed. The tester's verdict is checked against what ingest then really does."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Event, SuppressionRule
from incidents.noise import tester
from incidents.noise.tester import State
from incidents.portal.noise import parse_body
from incidents.rules.patterns import CompiledRule, EventText
from tests.conftest import load_payload
from tests.factories import make_key
from tests.incidents.noise_helpers import ingest

pytestmark = pytest.mark.django_db


def rule(**fields) -> SuppressionRule:
    return SuppressionRule.objects.create(**fields)


def payload_text(relative: str) -> str:
    return json.dumps(load_payload(relative))


def by_rule(verdict) -> dict[int, tuple[str, str]]:
    return {line.rule.pk: (line.state, line.why) for line in verdict.rules}


def test_pagerduty_trigger_names_the_rule_the_field_and_where_it_matched(key):
    first = rule(name="demo hosts", team=key.team, field="summary", operator="contains", value="host1.example")
    events = parse_body("events_v2", payload_text("pagerduty/pd_docs_trigger.json"), key)
    [verdict] = tester.run(key, events, [first], timezone.now())
    assert verdict.suppressed and verdict.suppressed_by == first
    assert verdict.headline == (
        f"suppressed: matches rule #{first.pk} “demo hosts” because summary contains 'host1.example' "
        "(at character 18, ignoring case): 'Example alert on host1.example.com'"
    )
    assert by_rule(verdict)[first.pk][0] == State.SUPPRESSES


def test_non_matching_rules_say_which_condition_failed_and_what_the_field_held(key):
    component = rule(team=key.team, field="component", operator="equals", value="mysql", order=1)
    label = rule(team=key.team, field="label:region", operator="regex", value="^us-", order=2)
    events = parse_body("alertmanager", payload_text("alertmanager/grafana_oncall_example_payload.json"), key)
    [verdict] = tester.run(key, events, [component, label], timezone.now())
    assert not verdict.suppressed
    assert verdict.headline.startswith("not suppressed: no enabled rule in scope matches")
    lines = by_rule(verdict)
    assert lines[component.pk] == (State.NO_MATCH, "no match: component is empty (the event has no value there), not 'mysql'")
    assert lines[label.pk] == (State.NO_MATCH, "no match: label:region does not match /^us-/: 'eu-1'")


def test_a_regex_on_a_label_reports_the_matched_text(key):
    region = rule(integration_key=key, field="label:region", operator="regex", value=r"eu-\d")
    events = parse_body("alertmanager", payload_text("alertmanager/grafana_oncall_example_payload.json"), key)
    [verdict] = tester.run(key, events, [region], timezone.now())
    assert verdict.suppressed_by == region
    assert "label:region matches /eu-\\d/ at 'eu-1'" in verdict.headline


def test_first_rule_in_order_wins_and_later_matches_are_shadowed(key):
    later = rule(team=key.team, field="severity", operator="equals", value="info", order=5)
    earlier = rule(team=key.team, field="source", operator="contains", value="monitoringtool", order=1)
    events = parse_body("events_v2", payload_text("pagerduty/pd_docs_trigger.json"), key)
    [verdict] = tester.run(key, events, [later, earlier], timezone.now())
    assert verdict.suppressed_by == earlier
    assert [line.rule.pk for line in verdict.rules] == [earlier.pk, later.pk]  # ingest's order
    state, why = by_rule(verdict)[later.pk]
    assert state == State.SHADOWED and why.endswith(f"but rule #{earlier.pk} comes first in the order")


def test_disabled_expired_and_other_keys_rules_are_skipped_with_the_reason(key, team):
    now = timezone.now()
    other = make_key(team=team, name="staging")[0]
    disabled = rule(team=team, field="summary", operator="contains", value="example", enabled=False)
    expired = rule(team=team, field="summary", operator="contains", value="example",
                   expires_at=now - timedelta(minutes=1))
    elsewhere = rule(integration_key=other, field="summary", operator="contains", value="example")
    events = parse_body("events_v2", payload_text("pagerduty/pd_docs_trigger.json"), key)
    [verdict] = tester.run(key, events, [disabled, expired, elsewhere], now)
    assert not verdict.suppressed
    lines = by_rule(verdict)
    assert lines[disabled.pk][0] == State.DISABLED and "would match" in lines[disabled.pk][1]
    assert lines[expired.pk][0] == State.EXPIRED
    assert lines[elsewhere.pk] == (State.OUT_OF_SCOPE, f"its scope is key staging, not key {key.name}")


def test_a_resolve_is_never_suppressed(key):
    rule(team=key.team, field="summary", operator="not_contains", value="anything")
    events = parse_body("events_v2", payload_text("pagerduty/pd_docs_resolve.json"), key)
    [verdict] = tester.run(key, events, list(SuppressionRule.objects.all()), timezone.now())
    assert not verdict.suppressed and "suppression acts on triggers only" in verdict.headline


def test_the_tester_agrees_with_ingest_on_every_vendor_trigger(key):
    """Same rules, same events: the tester's verdict is what the pipeline then does."""
    rules = [
        rule(team=key.team, field="severity", operator="equals", value="info", order=1),
        rule(team=key.team, field="label:alertname", operator="regex", value="(?i)^test", order=2),
    ]
    cases = [("events_v2", "pagerduty/pd_docs_trigger.json"), ("events_v2", "pagerduty/zabbix_media_trigger.json"),
             ("alertmanager", "alertmanager/grafana_oncall_example_payload.json"),
             ("alertmanager", "alertmanager/kubejobcompletion_v4_envelope.json")]
    seen = set()
    for door, path in cases:
        events = parse_body(door, payload_text(path), key)
        verdicts = tester.run(key, events, rules, timezone.now())
        for event, verdict in zip(parse_body(door, payload_text(path), key), verdicts, strict=True):
            outcome = ingest(key, event)
            expected = verdict.suppressed_by.pk if verdict.suppressed else None
            assert outcome.suppressed_by == expected, (path, verdict.headline)
            seen.add(expected)
    # Each rule suppressed something and something passed: every branch was compared.
    assert seen == {rules[0].pk, rules[1].pk, None}


def test_the_tester_writes_nothing(key, django_assert_num_queries):
    first = rule(team=key.team, field="summary", operator="contains", value="example")
    events = parse_body("events_v2", payload_text("pagerduty/pd_docs_trigger.json"), key)
    with django_assert_num_queries(1):  # the rule set, as ingest loads it
        tester.run(key, events, [first], timezone.now())
    first.refresh_from_db()
    assert first.hit_count == 0 and not Event.objects.exists()


def test_explain_is_the_matcher_for_every_operator():
    text = EventText({"summary": "Disk FULL on db-1", "labels": {"env": "prod"}})
    for operator, value in [("contains", "full"), ("equals", "disk full on db-1"), ("regex", "db-[0-9]"),
                            ("not_contains", "full"), ("not_equals", "x"), ("not_regex", "^Disk"),
                            ("contains", "nope"), ("regex", "(?i)^disk")]:
        compiled = CompiledRule.build(id=1, order=0, field="summary", operator=operator, value=value)
        assert compiled.explain(text).hit == compiled.matches(text), (operator, value)
