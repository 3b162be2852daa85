"""Grafana OnCall public API v1 -> Plan.

Shapes: https://grafana.com/docs/oncall/latest/oncall-api-reference/ (users, teams,
schedules, on_call_shifts, escalation_chains, escalation_policies, integrations) and the
serializers in grafana/oncall engine/apps/public_api/serializers. A shift's `start` is local
time in the shift's `time_zone` (UTC when null); a higher `level` wins; `override` shifts win
over all. The base URL is the instance's OnCall API URL (no public default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from importers import layers
from importers.plan import Plan, PlanKey, PlanOverride, PlanPolicy, PlanSchedule, PlanStep, PlanTeam, PlanUser
from importers.restrictions import Window, daily
from importers.vendors.common import in_horizon, parse_instant, zone

DEFAULT_BASE_URL = None
ICAL_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
FREQUENCY_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}
REPEATS = 5  # OnCall's "repeat escalation" step repeats the chain up to 5 times


def fetch(source, now: datetime) -> dict:
    return {
        "users": source.get_list("api/v1/users", "results"),
        "teams": source.get_list("api/v1/teams", "results"),
        "schedules": source.get_list("api/v1/schedules", "results"),
        "shifts": source.get_list("api/v1/on_call_shifts", "results"),
        "chains": source.get_list("api/v1/escalation_chains", "results"),
        "steps": source.get_list("api/v1/escalation_policies", "results"),
        "integrations": source.get_list("api/v1/integrations", "results"),
    }


def _dst_days(shift: dict, first: datetime, tz: ZoneInfo, period_days: int, now: datetime) -> list[str]:
    """Start days (next 90) of occurrences that span a DST change: OnCall's `duration` is
    elapsed time (an RFC 5545 exact duration) while Vigil's shifts and windows follow the wall
    clock, so on those days the two differ by the clock change."""
    by_day = [ICAL_DAYS.index(d) for d in shift.get("by_day") or []]
    local_first = first.astimezone(tz)
    days = []
    for offset in range(-7, 91):
        day = (now.astimezone(tz) + timedelta(days=offset)).date()
        gap = (day - local_first.date()).days
        if gap < 0 or (day.weekday() not in by_day if by_day else gap % period_days):
            continue
        start = datetime.combine(day, local_first.time(), tzinfo=tz)
        end = (start.astimezone(UTC) + timedelta(seconds=int(shift["duration"]))).astimezone(tz)
        if start.utcoffset() != end.utcoffset() and end > now:
            days.append(day.isoformat())
    return days


def _rotations(plan: Plan, shift: dict, tz: ZoneInfo, order: int, label: str, now: datetime):
    frequency, interval = shift.get("frequency"), int(shift.get("interval") or 1)
    if frequency not in FREQUENCY_SECONDS:
        plan.not_mapped(f"{label}: frequency {frequency!r}")
        return []
    turn = FREQUENCY_SECONDS[frequency] * interval
    start = parse_instant(shift.get("rotation_start") or shift["start"], tz)
    first = parse_instant(shift["start"], tz).astimezone(tz)
    duration = int(shift["duration"])
    if shift["type"] == "rolling_users":
        groups = [g for g in shift.get("rolling_users") or [] if g]
        if any(len(g) > 1 for g in groups):
            plan.not_mapped(f"{label}: several users on call together in one turn (Vigil: the first of each group)")
        users = [g[0] for g in groups]
        skip = int(shift.get("start_rotation_from_user_index") or 0) % max(1, len(users))
        users = users[skip:] + users[:skip]
    else:  # recurrent_event: the same people every time
        users = list(shift.get("users") or [])[:1]
        if len(shift.get("users") or []) > 1:
            plan.not_mapped(f"{label}: {len(shift['users'])} people on call together (Vigil: the first)")
    by_day = [ICAL_DAYS.index(d) for d in shift.get("by_day") or []]
    minute = first.hour * 60 + first.minute
    windows: list[Window] | None = None
    if by_day or duration < turn:
        if frequency == "hourly":
            plan.not_mapped(f"{label}: hourly shifts shorter than their interval")
            return []
        if frequency == "daily" and interval == 1:
            windows = [w for w in daily(minute, duration // 60) if not by_day or w.weekday in by_day]
        else:
            windows = [Window(day, minute, duration // 60) for day in (by_day or [first.weekday()])]
    if frequency in ("daily", "weekly"):
        changes = _dst_days(shift, first, tz, turn // 86400, now)
        if changes:
            plan.not_mapped(f"{label}: lasts {duration // 3600} h of elapsed time; the occurrence(s) starting "
                            f"{', '.join(changes)} span a DST change, which Vigil's wall-clock shift ends an hour apart")
    made = layers.rotations(name=shift.get("name") or label, order=order, turn_seconds=turn, start=start,
                            tz=tz, user_ids=users, windows=windows)
    if made is None:
        plan.not_mapped(f"{label}: a turn of {turn} s")
    return made or []


def _schedule(plan: Plan, raw: dict, shifts: dict, now: datetime) -> PlanSchedule | None:
    label = f"schedule {raw['name']!r}"
    if raw["type"] == "ical":
        plan.not_mapped(f"{label}: an iCal-URL schedule (its calendar is not in the API)")
        return None
    mine = [shifts[s] for s in raw.get("shifts") or [] if s in shifts]
    zones = {s.get("time_zone") or "UTC" for s in mine if s["type"] != "override"}
    tz, tz_name = zone(zones.pop() if len(zones) == 1 else raw.get("time_zone"))
    if zones:
        plan.not_mapped(f"{label}: shifts in several time zones; handoffs kept in {tz_name}")
    if raw["type"] == "calendar" and raw.get("ical_url_overrides"):
        plan.not_mapped(f"{label}: overrides from an iCal URL")
    schedule = PlanSchedule(vendor_id=raw["id"], name=raw["name"], time_zone=tz_name, team_id=raw.get("team_id"))
    for index, shift in enumerate(mine):
        shift_label = f"{label} shift {shift.get('name') or shift['id']!r}"
        shift_tz = ZoneInfo(shift.get("time_zone") or "UTC")
        if shift["type"] in ("override", "single_event"):
            start = parse_instant(shift["start"], shift_tz)
            end = start + _seconds(shift["duration"])
            if shift["type"] == "single_event":
                plan.not_mapped(f"{shift_label}: a single event, imported as an override")
            if in_horizon(start, end, now):
                for user in shift.get("users") or []:
                    schedule.overrides.append(PlanOverride(f"{shift['id']}:{user}", user, start, end))
            continue
        if shift.get("until") and parse_instant(shift["until"], shift_tz) <= now:
            continue
        if shift.get("until"):
            plan.not_mapped(f"{shift_label}: ends at {shift['until']}; Vigil rotations have no end date")
        order = int(shift.get("level") or 0) * 100 + index
        schedule.rotations += _rotations(plan, shift, tz, order, shift_label, now)
    return schedule


def _seconds(value) -> timedelta:
    return timedelta(seconds=int(value))


def _policy(plan: Plan, chain: dict, steps: list[dict]) -> PlanPolicy:
    policy = PlanPolicy(vendor_id=chain["id"], name=chain["name"], team_id=chain.get("team_id"))
    waiting = 0
    for step in sorted(steps, key=lambda s: s.get("position", 0)):
        label = f"escalation chain {chain['name']!r} step {step.get('position', 0) + 1} ({step['type']})"
        kind = step["type"]
        if kind == "wait":
            waiting += int(step.get("duration") or 0) // 60
            continue
        if kind == "repeat_escalation":
            policy.repeat_count, policy.repeat_delay_minutes = REPEATS, waiting or 1
            waiting = 0
            break
        target = PlanStep(delay_minutes=waiting)
        if kind == "notify_persons":
            target.user_ids = list(step.get("persons_to_notify") or [])
        elif kind == "notify_on_call_from_schedule":
            target.schedule_ids = [step["notify_on_call_from_schedule"]]
        elif kind == "notify_team_members":
            target.team_ids = [step["notify_to_team_members"]]
        else:
            plan.not_mapped(f"{label}: no Vigil equivalent")
            continue
        if step.get("important"):
            plan.not_mapped(f"{label}: 'important' notifications (Vigil uses each person's own rules)")
        policy.steps.append(target)
        waiting = 0
    return policy


def to_plan(raw: dict, now: datetime) -> Plan:
    plan = Plan(vendor="oncall")
    plan.users = [PlanUser(u["id"], u["email"], u.get("name") or u.get("username") or "") for u in raw["users"]]
    admins = {u["id"] for u in raw["users"] if u.get("role") == "admin"}
    for team in raw["teams"]:
        members = [(u["id"], "admin" if u["id"] in admins else "responder")
                   for u in raw["users"] if team["id"] in (u.get("teams") or [])]
        plan.teams.append(PlanTeam(team["id"], team["name"], members))
    shifts = {s["id"]: s for s in raw["shifts"]}
    plan.schedules = [s for s in (_schedule(plan, r, shifts, now) for r in raw["schedules"]) if s]
    for chain in raw["chains"]:
        plan.policies.append(_policy(plan, chain, [s for s in raw["steps"] if s["escalation_chain_id"] == chain["id"]]))
    for integration in raw["integrations"]:
        chain_id = (integration.get("default_route") or {}).get("escalation_chain_id")
        if not chain_id:
            plan.not_mapped(f"integration {integration['name']!r}: its default route has no escalation chain")
            continue
        plan.keys.append(PlanKey(
            vendor_id=integration["id"], name=f"{integration['name']} · {integration['type']}"[:100],
            policy_id=chain_id, team_id=integration.get("team_id"),
            source=f"Grafana OnCall {integration['type']} integration {integration['name']!r} (default route)",
        ))
    return plan
