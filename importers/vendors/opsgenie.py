"""Opsgenie REST API v2 -> Plan.

Shapes: https://docs.opsgenie.com/docs/ (User, Team, Schedule, Schedule Rotation, Schedule
Override, Escalation, Integration APIs). Opsgenie puts every rotation's person on call at
once; Vigil names one person per schedule (the highest layer). Rotations that overlap in time
are reported; the later rotation in the list gets the higher Vigil order."""

from __future__ import annotations

from datetime import datetime

from importers import layers
from importers.plan import Plan, PlanKey, PlanOverride, PlanPolicy, PlanSchedule, PlanStep, PlanTeam, PlanUser
from importers.restrictions import DAY_MINUTES, WEEK_MINUTES, Window, daily
from importers.vendors.common import OVERRIDE_HORIZON, in_horizon, parse_instant, zone

DEFAULT_BASE_URL = "https://api.opsgenie.com"  # EU accounts: https://api.eu.opsgenie.com
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# (recipient type, notifyType) pairs Vigil has: a user, a schedule's on-call, a team's members.
MAPPABLE = {("user", "default"), ("schedule", "default"), ("team", "default"), ("team", "all")}
TURN_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}


def fetch(source, now: datetime) -> dict:
    teams = source.get_list("v2/teams", "data")
    schedules = source.get_list("v2/schedules", "data", {"expand": "rotation"})
    window = {"startDate": now.isoformat(), "endDate": (now + OVERRIDE_HORIZON).isoformat()}
    return {
        "users": source.get_list("v2/users", "data"),
        "teams": [source.get(f"v2/teams/{t['id']}")["data"] for t in teams],
        "schedules": schedules,
        "overrides": {s["id"]: source.get_list(f"v2/schedules/{s['id']}/overrides", "data", window) for s in schedules},
        "escalations": source.get_list("v2/escalations", "data"),
        "integrations": source.get_list("v2/integrations", "data"),
    }


def _windows(restriction: dict | None) -> list[Window] | None:
    if not restriction:
        return None
    if restriction["type"] == "time-of-day":
        r = restriction["restriction"]
        start, end = r["startHour"] * 60 + r["startMin"], r["endHour"] * 60 + r["endMin"]
        return daily(start, (end - start) % DAY_MINUTES or DAY_MINUTES)
    windows = []
    for r in restriction["restrictions"]:
        start = DAYS.index(r["startDay"]) * DAY_MINUTES + r["startHour"] * 60 + r["startMin"]
        end = DAYS.index(r["endDay"]) * DAY_MINUTES + r["endHour"] * 60 + r["endMin"]
        windows.append(Window(start // DAY_MINUTES, start % DAY_MINUTES, (end - start) % WEEK_MINUTES or WEEK_MINUTES))
    return windows


def _schedule(plan: Plan, raw: dict, overrides: list[dict], now: datetime) -> PlanSchedule:
    tz, tz_name = zone(raw.get("timezone"))
    owner = raw.get("ownerTeam") or {}
    schedule = PlanSchedule(vendor_id=raw["id"], name=raw["name"], time_zone=tz_name,
                            team_id=owner.get("id"), description=raw.get("description") or "")
    if raw.get("enabled") is False:
        plan.not_mapped(f"schedule {raw['name']!r}: disabled in Opsgenie (imported enabled)")
    rotation_ids = []
    for order, rotation in enumerate(raw.get("rotations") or []):
        label = f"schedule {raw['name']!r} rotation {rotation.get('name') or order + 1!r}"
        if rotation.get("endDate"):
            if parse_instant(rotation["endDate"]) <= now:
                plan.not_mapped(f"{label}: ended at {rotation['endDate']} (not imported)")
                continue
            plan.not_mapped(f"{label}: ends at {rotation['endDate']}; Vigil rotations have no end date")
        users = []
        for participant in rotation.get("participants") or []:
            if participant["type"] == "user":
                users.append(participant["id"])
            else:
                plan.not_mapped(f"{label}: participant of type {participant['type']!r} "
                                f"({participant.get('name') or participant.get('id', '')})")
        made = layers.rotations(
            name=rotation.get("name") or f"Rotation {order + 1}", order=order,
            turn_seconds=TURN_SECONDS[rotation["type"]] * int(rotation.get("length") or 1),
            start=parse_instant(rotation["startDate"]), tz=tz, user_ids=users,
            windows=_windows(rotation.get("timeRestriction")),
        )
        schedule.rotations += made or []
        rotation_ids.append(rotation["id"])
    for o in overrides:
        start, end = parse_instant(o["startDate"]), parse_instant(o["endDate"])
        if not in_horizon(start, end, now):
            continue
        limited = {r["id"] for r in o.get("rotations") or []}
        if limited and not set(rotation_ids) <= limited:
            plan.not_mapped(f"schedule {raw['name']!r} override {o['alias']!r}: limited to some rotations "
                            "(Vigil overrides cover the whole schedule)")
        if o["user"]["type"] != "user":
            plan.not_mapped(f"schedule {raw['name']!r} override {o['alias']!r}: for a {o['user']['type']}")
            continue
        schedule.overrides.append(PlanOverride(o["alias"], o["user"]["id"], start, end))
    return schedule


def _policy(plan: Plan, raw: dict) -> PlanPolicy:
    owner = raw.get("ownerTeam") or {}
    repeat = raw.get("repeat") or {}
    policy = PlanPolicy(vendor_id=raw["id"], name=raw["name"], team_id=owner.get("id"),
                        repeat_count=int(repeat.get("count") or 0),
                        repeat_delay_minutes=int(repeat.get("waitInterval") or 0) or 15)
    elapsed = 0  # Opsgenie counts each rule's delay from the alert; Vigil from the step before
    for number, rule in enumerate(raw.get("rules") or [], start=1):
        label = f"escalation {raw['name']!r} rule {number}"
        recipient, notify = rule["recipient"], rule.get("notifyType", "default")
        delay = int(rule["delay"]["timeAmount"]) * (60 if rule["delay"].get("timeUnit") == "hours" else 1)
        if rule.get("condition") == "if-not-closed":
            plan.not_mapped(f"{label}: condition 'if-not-closed' (Vigil stops escalating on acknowledge)")
        if (recipient["type"], notify) not in MAPPABLE:
            plan.not_mapped(f"{label}: notify {notify!r} of {recipient['type']} "
                            f"{recipient.get('name') or recipient.get('username') or recipient.get('id')}")
            continue
        step = PlanStep(delay_minutes=max(0, delay - elapsed))
        {"user": step.user_ids, "schedule": step.schedule_ids, "team": step.team_ids}[recipient["type"]].append(recipient["id"])
        policy.steps.append(step)
        elapsed = max(elapsed, delay)
    return policy


def to_plan(raw: dict, now: datetime) -> Plan:
    plan = Plan(vendor="opsgenie")
    plan.users = [PlanUser(u["id"], u["username"], u.get("fullName") or "") for u in raw["users"]]
    for team in raw["teams"]:
        members = [(m["user"]["id"], "admin" if m.get("role") == "admin" else "responder")
                   for m in team.get("members") or []]
        plan.teams.append(PlanTeam(team["id"], team["name"], members))
    plan.schedules = [_schedule(plan, s, raw["overrides"].get(s["id"], []), now) for s in raw["schedules"]]
    plan.policies = [_policy(plan, e) for e in raw["escalations"]]
    team_policy = {}
    for policy in plan.policies:
        team_policy.setdefault(policy.team_id, policy.vendor_id)
    for integration in raw["integrations"]:
        team_id = integration.get("teamId")
        policy_id = team_policy.get(team_id)
        if policy_id is None:
            plan.not_mapped(f"integration {integration['name']!r}: its team has no escalation to route to")
            continue
        plan.keys.append(PlanKey(
            vendor_id=integration["id"], name=f"{integration['name']} · {integration['type']}"[:100],
            policy_id=policy_id, team_id=team_id,
            source=f"Opsgenie {integration['type']} integration {integration['name']!r} "
                   "(routed to the team's first escalation; team routing rules are not imported)",
        ))
    return plan
