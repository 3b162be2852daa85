"""PagerDuty REST API v2 -> Plan.

Shapes: https://developer.pagerduty.com/api-reference/ (Users, Teams, Schedules, Escalation
Policies, Services). Layers: the last layer in `schedule_layers` has the highest priority (it
is drawn on top in PagerDuty's schedule editor), so it gets the highest Vigil `order`."""

from __future__ import annotations

from datetime import datetime

from importers import layers
from importers.plan import Plan, PlanKey, PlanOverride, PlanPolicy, PlanSchedule, PlanStep, PlanTeam, PlanUser
from importers.restrictions import DAY_MINUTES, Window, daily
from importers.vendors.common import OVERRIDE_HORIZON, in_horizon, parse_instant, zone

DEFAULT_BASE_URL = "https://api.pagerduty.com"


def fetch(source, now: datetime) -> dict:
    window = {"since": now.isoformat(), "until": (now + OVERRIDE_HORIZON).isoformat()}
    teams = source.get_list("teams", "teams")
    schedules = source.get_list("schedules", "schedules")
    return {
        "users": source.get_list("users", "users"),
        "teams": teams,
        "members": {t["id"]: source.get_list(f"teams/{t['id']}/members", "members") for t in teams},
        "schedules": [source.get(f"schedules/{s['id']}", window)["schedule"] for s in schedules],
        "overrides": {s["id"]: source.get_list(f"schedules/{s['id']}/overrides", "overrides", window) for s in schedules},
        "policies": source.get_list("escalation_policies", "escalation_policies"),
        "services": source.get_list("services", "services", {"include[]": "integrations"}),
    }


def _windows(restrictions: list[dict]) -> list[Window]:
    windows: list[Window] = []
    for r in restrictions:
        hours, minutes, *_ = (int(part) for part in r["start_time_of_day"].split(":"))
        start, length = hours * 60 + minutes, int(r["duration_seconds"]) // 60
        if r["type"] == "daily_restriction":
            windows += daily(start, min(length, DAY_MINUTES))
        else:  # weekly_restriction: start_day_of_week is ISO (1 = Monday)
            windows.append(Window(int(r["start_day_of_week"]) - 1, start, length))
    return windows


def _schedule(plan: Plan, raw: dict, overrides: list[dict], now: datetime) -> PlanSchedule:
    tz, tz_name = zone(raw.get("time_zone"))
    teams = raw.get("teams") or []
    schedule = PlanSchedule(
        vendor_id=raw["id"], name=raw["name"], time_zone=tz_name,
        team_id=teams[0]["id"] if teams else None, description=raw.get("description") or "",
    )
    for order, layer in enumerate(raw.get("schedule_layers") or []):
        label = f"schedule {raw['name']!r} layer {layer.get('name') or order + 1!r}"
        if layer.get("end") and parse_instant(layer["end"]) > now:
            plan.not_mapped(f"{label}: ends at {layer['end']}; Vigil rotations have no end date (imported without it)")
        if layer.get("end") and parse_instant(layer["end"]) <= now:
            plan.not_mapped(f"{label}: ended at {layer['end']} (not imported)")
            continue
        start = parse_instant(layer["rotation_virtual_start"])
        if parse_instant(layer["start"]) > max(start, now):
            plan.not_mapped(f"{label}: starts later ({layer['start']}); Vigil uses its rotation start {start.isoformat()}")
        made = layers.rotations(
            name=layer.get("name") or f"Layer {order + 1}", order=order,
            turn_seconds=int(layer["rotation_turn_length_seconds"]), start=start, tz=tz,
            user_ids=[u["user"]["id"] for u in layer.get("users") or []],
            windows=_windows(layer.get("restrictions") or []),
        )
        if made is None:
            plan.not_mapped(f"{label}: a turn of {layer['rotation_turn_length_seconds']} s is not whole hours")
            continue
        schedule.rotations += made
    for o in overrides:
        start, end = parse_instant(o["start"]), parse_instant(o["end"])
        if in_horizon(start, end, now):
            schedule.overrides.append(PlanOverride(o["id"], o["user"]["id"], start, end))
    return schedule


def _policy(plan: Plan, raw: dict) -> PlanPolicy:
    teams = raw.get("teams") or []
    rules = raw.get("escalation_rules") or []
    policy = PlanPolicy(
        vendor_id=raw["id"], name=raw["name"], team_id=teams[0]["id"] if teams else None,
        repeat_count=int(raw.get("num_loops") or 0),
        repeat_delay_minutes=int(rules[-1]["escalation_delay_in_minutes"]) if rules else 15,
    )
    delay = 0  # a rule's delay is the wait before the *next* rule
    for number, rule in enumerate(rules, start=1):
        step = PlanStep(delay_minutes=delay)
        strategy = rule.get("escalation_rule_assignment_strategy") or "assign_to_everyone"
        if isinstance(strategy, dict):  # {"type": "round_robin"} in the current API reference
            strategy = strategy.get("type", "assign_to_everyone")
        if strategy != "assign_to_everyone":
            plan.not_mapped(
                f"policy {raw['name']!r} rule {number}: assignment strategy {strategy!r} "
                "(Vigil pages every target of a step; imported as everyone)"
            )
        for target in rule.get("targets") or []:
            kind = target["type"].removesuffix("_reference")
            if kind == "user":
                step.user_ids.append(target["id"])
            elif kind == "schedule":
                step.schedule_ids.append(target["id"])
            else:
                plan.not_mapped(f"policy {raw['name']!r} rule {number}: target type {target['type']!r}")
        policy.steps.append(step)
        delay = int(rule["escalation_delay_in_minutes"])
    if raw.get("on_call_handoff_notifications") == "always":
        plan.not_mapped(f"policy {raw['name']!r}: on-call handoff notifications 'always'")
    return policy


def to_plan(raw: dict, now: datetime) -> Plan:
    plan = Plan(vendor="pagerduty")
    plan.users = [PlanUser(u["id"], u["email"], u.get("name") or "") for u in raw["users"]]
    for team in raw["teams"]:
        members = [(m["user"]["id"], "admin" if m.get("role") == "manager" else "responder")
                   for m in raw["members"].get(team["id"], [])]
        plan.teams.append(PlanTeam(team["id"], team["name"], members))
    plan.schedules = [_schedule(plan, s, raw["overrides"].get(s["id"], []), now) for s in raw["schedules"]]
    plan.policies = [_policy(plan, p) for p in raw["policies"]]
    for service in raw["services"]:
        policy_id = service["escalation_policy"]["id"]
        teams = service.get("teams") or []
        integrations = service.get("integrations") or [{"id": service["id"], "summary": "no integration"}]
        for integration in integrations:
            tool = integration.get("summary") or integration.get("type", "integration")
            plan.keys.append(PlanKey(
                vendor_id=integration["id"], name=f"{service['name']} · {tool}"[:100], policy_id=policy_id,
                team_id=teams[0]["id"] if teams else None,
                source=f"PagerDuty service {service['name']!r}, integration {tool!r}",
            ))
        if service.get("alert_grouping_parameters", {}).get("type") not in (None, ""):
            plan.not_mapped(f"service {service['name']!r}: alert grouping {service['alert_grouping_parameters']['type']!r}")
    return plan
