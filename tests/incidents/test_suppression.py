"""Suppression rules inside the one pipeline (issue 5; RELIABILITY.md T31 for regexes)."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import Event, Incident, SuppressionRule
from incidents.noise import suppression
from incidents.rules.patterns import MAX_MATCH_CHARS, EventText
from tests.factories import make_key, make_team
from tests.incidents.noise_helpers import closing, ingest, trigger

pytestmark = pytest.mark.django_db

PATHOLOGICAL = ["^(a|aa)+$", "(a+)+$", "(x+x+)+y", "(.*a){20}", "((((a*)*)*)*)*b", r"(\w+\s?)*$"]


def rule(**fields):
    fields.setdefault("field", "summary")
    fields.setdefault("operator", "contains")
    return SuppressionRule.objects.create(**fields)


def test_matching_trigger_is_logged_suppressed_with_its_rule_and_opens_nothing(
    key, django_capture_on_commit_callbacks
):
    noisy = rule(value="disk usage", name="disk noise")
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = ingest(key, trigger("disk-1"))
    assert outcome.outcome == "suppressed" and outcome.incident_id is None
    event = Event.objects.get()
    assert (event.outcome, event.suppressed_by) == ("suppressed", noisy)
    assert f"rule #{noisy.pk}" in event.reason and "summary contains 'disk usage'" in event.reason
    assert not Incident.objects.exists()
    assert callbacks == []  # nothing enqueued: nobody is paged


def test_each_hit_counts_and_records_when(key):
    noisy = rule(value="disk")
    before = timezone.now()
    ingest(key, trigger("a"))
    ingest(key, trigger("b"))
    noisy.refresh_from_db()
    assert noisy.hit_count == 2
    assert noisy.last_hit_at >= before


def test_a_trigger_no_rule_matches_opens_an_incident(key):
    rule(value="cpu")
    assert ingest(key, trigger()).outcome == "created"
    assert SuppressionRule.objects.get().hit_count == 0


def test_acknowledge_and_resolve_always_reach_their_incident(key):
    incident_id = ingest(key, trigger("disk-1")).incident_id
    # A rule that matches everything, even the empty summary of an acknowledge or resolve.
    rule(operator="not_contains", value="no alert ever says this")
    assert ingest(key, closing("acknowledge", "disk-1")).outcome == "acknowledged"
    assert ingest(key, closing("resolve", "disk-1")).outcome == "resolved"
    assert Incident.objects.get(pk=incident_id).status == "resolved"
    assert SuppressionRule.objects.get().hit_count == 0


def test_rules_are_checked_in_order_then_id_and_the_first_match_wins(key):
    later = rule(value="disk", order=20)
    tie_second = rule(value="usage", order=10)
    tie_first = SuppressionRule.objects.create(field="source", operator="equals", value="prometheus", order=10)
    assert tie_first.pk > tie_second.pk  # same order: the lower id is checked first
    ingest(key, trigger())
    assert Event.objects.get().suppressed_by == tie_second
    assert later.__class__.objects.get(pk=later.pk).hit_count == 0


def test_order_is_across_scopes_not_by_scope(key):
    key_rule = rule(value="disk", integration_key=key, order=5)
    rule(value="disk", order=1)  # global, checked first
    ingest(key, trigger())
    assert Event.objects.get().suppressed_by != key_rule
    assert Event.objects.get().suppressed_by.order == 1


def test_team_scoped_rule_applies_to_that_teams_keys_only(team, key):
    other_key, _ = make_key(team=make_team("Payments"))
    rule(value="disk", team=team)
    assert ingest(key, trigger("a")).outcome == "suppressed"
    assert ingest(other_key, trigger("a")).outcome == "created"


def test_key_scoped_rule_applies_to_that_key_only(team, key):
    sibling, _ = make_key(team=team)
    rule(value="disk", integration_key=key)
    assert ingest(key, trigger("a")).outcome == "suppressed"
    assert ingest(sibling, trigger("a")).outcome == "created"


def test_global_rule_applies_to_a_key_without_team():
    teamless, _ = make_key(team=None)
    rule(value="disk")
    assert ingest(teamless, trigger()).outcome == "suppressed"


def test_disabled_rule_does_nothing(key):
    rule(value="disk", enabled=False)
    assert ingest(key, trigger()).outcome == "created"


def test_expired_rule_does_nothing_and_an_unexpired_one_suppresses(key):
    rule(value="disk", expires_at=timezone.now() - timedelta(seconds=1))
    assert ingest(key, trigger("a")).outcome == "created"
    rule(value="disk", expires_at=timezone.now() + timedelta(hours=1))
    assert ingest(key, trigger("b")).outcome == "suppressed"


@pytest.mark.parametrize(
    "field, value, event_fields",
    [
        ("source", "prometheus-canary", {"source": "prometheus-canary"}),
        ("component", "postgres", {"component": "postgres"}),
        ("group", "staging", {"group": "staging"}),
        ("class", "synthetic", {"event_class": "synthetic"}),
        ("severity", "info", {"severity": "info"}),
        ("details", "maintenance-bot", {"details": {"author": "maintenance-bot", "n": 3}}),
        ("details", "plain text", {"details": "some plain text here"}),
        ("label:env", "test", {"labels": {"env": "test", "service": "api"}}),
    ],
)
def test_every_field_can_be_matched(key, field, value, event_fields):
    rule(field=field, operator="contains", value=value)
    assert ingest(key, trigger(**event_fields)).outcome == "suppressed"
    assert ingest(key, trigger()).outcome == "created"


@pytest.mark.parametrize(
    "operator, value, suppressed",
    [
        ("contains", "USAGE > 90", True),  # contains and equals ignore case
        ("contains", "memory", False),
        ("equals", "disk usage > 90% on srv01", True),
        ("equals", "Disk usage", False),
        ("regex", r"^Disk usage > \d+% on srv\d+$", True),
        ("regex", r"^disk", False),  # a regex is matched as written...
        ("regex", r"(?i)^disk", True),  # ...unless it asks to ignore case
        ("not_contains", "memory", True),
        ("not_contains", "disk", False),
        ("not_equals", "something else", True),
        ("not_equals", "Disk usage > 90% on srv01", False),
        ("not_regex", r"srv0[2-9]", True),
        ("not_regex", r"srv0\d", False),
    ],
)
def test_operators(key, operator, value, suppressed):
    rule(operator=operator, value=value)
    assert (ingest(key, trigger()).outcome == "suppressed") is suppressed


def test_a_missing_label_matches_as_empty_text(key):
    rule(field="label:env", operator="not_equals", value="prod")
    assert ingest(key, trigger(labels={"env": "prod"})).outcome == "created"
    assert ingest(key, trigger(labels={})).outcome == "suppressed"


# --- T31: unsafe patterns never reach ingest --------------------------------------------------


@pytest.mark.parametrize(
    "pattern, says",
    [
        (r"(a)\1", "backreferences are not supported"),
        (r"(?P<x>a)(?P=x)", "named backreferences are not supported"),
        ("(?=x)", "lookahead"),
        ("(?!x)y", "negative lookahead"),
        ("(?<=x)y", "lookbehind"),
        ("(?<!x)y", "negative lookbehind"),
        ("a" * 5000, "at most 512 characters"),
        ("(unclosed", "invalid regular expression"),
        ("a{0,1000}b{0,1000}", "too complex"),
    ],
)
def test_unsafe_or_invalid_regex_is_refused_by_the_model_naming_the_field(pattern, says):
    candidate = SuppressionRule(field="summary", operator="regex", value=pattern)
    with pytest.raises(ValidationError) as refused:
        candidate.full_clean()
    assert says in " ".join(refused.value.message_dict["value"])
    with pytest.raises(ValidationError):
        candidate.save()  # not even the shell can store it
    assert not SuppressionRule.objects.exists()


def test_unknown_field_and_operator_are_refused_by_the_model():
    with pytest.raises(ValidationError) as refused:
        SuppressionRule(field="hostname", operator="like", value="x").full_clean()
    assert set(refused.value.message_dict) >= {"field", "operator"}
    assert "label:<name>" in refused.value.message_dict["field"][0]


def test_the_same_text_with_a_plain_operator_is_not_a_regex(key):
    rule(operator="contains", value=r"(a)\1")  # contains is literal text: nothing to compile
    assert ingest(key, trigger(summary=r"literally (a)\1")).outcome == "suppressed"


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
def test_catastrophic_but_regular_patterns_are_accepted_and_match_fast(key, pattern):
    """RE2 is linear: `^(a|aa)+$` over 4,000 a's and a '!' is a walk, not 2^4000 paths."""
    rule(operator="regex", value=pattern, field="details")
    event = trigger(details="a" * 4000 + "!")
    rules = list(suppression.active_rules().in_scope(key.pk, key.team_id))
    started = time.perf_counter()
    for _ in range(20):
        suppression.first_match(rules, event.to_log(), key_id=key.pk, team_id=key.team_id, now=timezone.now())
    per_event_ms = (time.perf_counter() - started) * 1000 / 20
    # T31 asks < 5 ms; measured 0.01-0.5 ms. The bound here is loose on purpose (shared CPUs).
    assert per_event_ms < 50, per_event_ms
    ingest(key, event)


def test_one_hundred_rules_cost_well_under_twenty_ms_per_event(key):
    for n in range(100):
        operator = ["contains", "equals", "regex", "not_regex"][n % 4]
        value = {"contains": f"never-{n}", "equals": f"never {n}", "regex": PATHOLOGICAL[n % 6],
                 "not_regex": "."}[operator]
        rule(field=["summary", "details", "label:env", "source"][n % 4], operator=operator, value=value,
             order=n)
    event = trigger(summary="a" * 4000 + "!", details="a" * 4000 + "!", labels={"env": "a" * 4000})
    event.summary = event.summary[:1024]  # as apply_event cuts it
    rules = list(suppression.active_rules().in_scope(key.pk, key.team_id))
    assert len(rules) == 100
    started = time.perf_counter()
    for _ in range(10):
        suppression.first_match(rules, event.to_log(), key_id=key.pk, team_id=key.team_id, now=timezone.now())
    per_event_ms = (time.perf_counter() - started) * 1000 / 10
    assert per_event_ms < 200, per_event_ms  # T31: < 20 ms; loose here, reported separately


def test_only_the_first_64_kib_of_a_field_is_matched():
    huge = "a" * 1_000_000 + "!"
    seen = EventText({"summary": huge, "details": {"blob": huge}})
    assert len(seen.get("summary")) == MAX_MATCH_CHARS
    assert len(seen.get("details")) == MAX_MATCH_CHARS


def test_a_one_megabyte_payload_is_matched_on_its_first_64_kib(key):
    rule(field="details", operator="regex", value="!$", order=1)  # the '!' is past the cap
    rule(field="details", operator="regex", value="^a{500}", order=2)
    event = trigger(details="a" * 1_000_000 + "!", summary="a" * 1_000_000 + "!")
    outcome = ingest(key, event)
    assert outcome.outcome == "suppressed"
    assert Event.objects.get().suppressed_by.order == 2
    assert len(Event.objects.get().summary) == 1024  # the pipeline cut the summary first


# --- the cache: one query at most, none when warm --------------------------------------------


def test_hot_path_costs_one_query_cold_and_none_warm(key, django_assert_num_queries):
    rule(value="memory")
    event = trigger()
    with django_assert_num_queries(1):
        assert suppression.check(key, event) is None
    with django_assert_num_queries(0):
        assert suppression.check(key, event) is None


def test_a_hit_costs_one_update(key, django_assert_num_queries):
    rule(value="disk")
    suppression.active_rules()  # warm
    with django_assert_num_queries(1):
        assert suppression.check(key, trigger()) is not None


# Counted inside the test's transaction: apply_event's own atomic block is a SAVEPOINT and
# RELEASE here (2 of the budget); in production it is BEGIN/COMMIT. Suppressed: the hit
# UPDATE and the event INSERT. Created: alert SELECT, savepoint pair, incident and alert
# INSERTs, the maintenance-window SELECT, the event INSERT.
@pytest.mark.parametrize("outcome, budget", [("created", 9), ("suppressed", 4)])
def test_whole_pipeline_query_budget(key, django_assert_max_num_queries, outcome, budget):
    rule(value="disk" if outcome == "suppressed" else "memory")
    suppression.active_rules()  # warm, as in a worker that has seen an event in the last seconds
    with django_assert_max_num_queries(budget):
        assert ingest(key, trigger()).outcome == outcome


def test_saving_a_rule_drops_the_cache_at_once(key):
    noisy = rule(value="memory")
    assert ingest(key, trigger("a")).outcome == "created"  # caches the rule
    noisy.value = "disk"
    noisy.save()
    assert ingest(key, trigger("b")).outcome == "suppressed"
    noisy.delete()
    assert ingest(key, trigger("c")).outcome == "created"


def test_a_rule_deleted_behind_the_cache_never_suppresses(key):
    noisy = rule(value="disk")
    suppression.active_rules()  # cached with the rule
    SuppressionRule.objects.filter(pk=noisy.pk).delete()  # a bulk delete: no save(), no invalidation
    outcome = ingest(key, trigger())
    assert outcome.outcome == "created"  # the hit update found no row: rules were read again
    assert Event.objects.get().suppressed_by is None


def test_a_rule_disabled_behind_the_cache_never_suppresses(key):
    noisy = rule(value="disk")
    suppression.active_rules()
    SuppressionRule.objects.filter(pk=noisy.pk).update(enabled=False)
    assert ingest(key, trigger()).outcome == "created"


def test_a_bad_row_written_around_validation_is_skipped_not_fatal(key, caplog):
    good = rule(value="disk", order=2)
    bad = rule(operator="regex", value="placeholder", order=1)
    SuppressionRule.objects.filter(pk=bad.pk).update(value=r"(a)\1")  # bypasses save()
    assert ingest(key, trigger()).outcome == "suppressed"
    assert Event.objects.get().suppressed_by == good
    assert f"suppression rule #{bad.pk} cannot run" in caplog.text


# --- admin -------------------------------------------------------------------------------------


def test_admin_lists_rules_in_check_order_with_their_hits(admin_client, key):
    second = rule(value="second-rule-value", order=2)
    first = rule(value="first-rule-value", order=1, hit_count=7)
    page = admin_client.get("/admin/incidents/suppressionrule/").content.decode()
    assert page.index("first-rule-value") < page.index("second-rule-value")
    assert ">7<" in page  # the hit counter column
    assert f"/admin/incidents/suppressionrule/{first.pk}/test/" in page
    assert f"/admin/incidents/suppressionrule/{second.pk}/test/" in page


def test_admin_test_view_shows_which_recent_triggers_would_be_suppressed(admin_client, team, key):
    other_key, _ = make_key(team=make_team("Payments"))
    ingest(key, trigger("a", summary="Disk full on db1"))
    ingest(key, trigger("b", summary="CPU high on <script>alert(1)</script>"))
    ingest(key, trigger("c", summary="disk slow on db2"))
    ingest(other_key, trigger("d", summary="Disk full elsewhere"))  # another scope: not shown
    candidate = rule(value="disk", integration_key=key, enabled=False)  # tried before enabling
    response = admin_client.get(f"/admin/incidents/suppressionrule/{candidate.pk}/test/?n=50")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>2</strong> of 3 triggers would have been suppressed" in page
    assert page.count('class="vigil-would-suppress"') == 2
    assert "Disk full elsewhere" not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert candidate.__class__.objects.get(pk=candidate.pk).hit_count == 0  # a dry run counts nothing


def test_admin_test_view_limits_to_the_last_n_triggers(admin_client, key):
    for n in range(5):
        ingest(key, trigger(f"k{n}"))
    candidate = rule(value="disk", enabled=False)
    page = admin_client.get(f"/admin/incidents/suppressionrule/{candidate.pk}/test/?n=2").content.decode()
    assert "of 2 triggers" in page


def test_admin_form_refuses_an_unsafe_regex_naming_the_field(admin_client):
    response = admin_client.post("/admin/incidents/suppressionrule/add/", {
        "name": "bad", "order": 0, "enabled": "on", "field": "summary", "operator": "regex",
        "value": "(?<=x)y", "expires_at_0": "", "expires_at_1": "",
    })
    assert response.status_code == 200  # the form again, with the error
    assert "lookbehind (?&lt;=...) is not supported" in response.content.decode()
    assert not SuppressionRule.objects.exists()


def test_admin_lists_maintenance_windows_with_their_state(admin_client, key):
    from incidents.models import MaintenanceWindow

    now = timezone.now()
    MaintenanceWindow.objects.create(integration_key=key, start=now - timedelta(minutes=5),
                                     end=now + timedelta(hours=1), reason="database upgrade")
    page = admin_client.get("/admin/incidents/maintenancewindow/?state=active").content.decode()
    assert "database upgrade" in page and f"key: {key}" in page
