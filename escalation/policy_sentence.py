"""A policy as the sentence a person would say: "Notify whoever is on call for SRE primary;
after 10 min, notify Bob; repeat twice, 15 min after the last step."

Pure text from rows already loaded (steps with their users, schedules and teams
prefetched): no query here, whatever the policy's size."""

from __future__ import annotations

REPEAT_WORDS = {1: "once", 2: "twice"}


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def minutes(value: int) -> str:
    if value and value % 60 == 0:
        hours = value // 60
        return f"{hours} h"
    return f"{value} min"


def joined(parts: list[str]) -> str:
    """["a"] -> "a"; ["a", "b"] -> "a and b"; ["a", "b", "c"] -> "a, b and c"."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def step_targets(users, schedules, teams) -> str:
    parts = [f"whoever is on call for {s.name}" for s in schedules]
    parts += [person_name(u) for u in users]
    parts += [f"everyone in {t.name}" for t in teams]
    return joined(parts) or "nobody"


def step_clause(index: int, delay_minutes: int, targets: str) -> str:
    if delay_minutes == 0:
        return f"notify {targets}" if index == 0 else f"at the same time, notify {targets}"
    return f"after {minutes(delay_minutes)}, notify {targets}"


def repeat_clause(repeat_count: int, repeat_delay_minutes: int) -> str:
    if not repeat_count:
        return "then stop"
    times = REPEAT_WORDS.get(repeat_count, f"{repeat_count} times")
    return f"repeat {times}, {minutes(repeat_delay_minutes)} after the last step"


def describe_steps(steps: list[tuple[int, list, list, list]], repeat_count: int, repeat_delay_minutes: int) -> str:
    """`steps`: (delay minutes, users, schedules, teams) in order."""
    if not steps:
        return "Nobody is notified: this policy has no steps yet."
    clauses = [step_clause(i, delay, step_targets(users, schedules, teams))
               for i, (delay, users, schedules, teams) in enumerate(steps)]
    clauses.append(repeat_clause(repeat_count, repeat_delay_minutes))
    sentence = "; ".join(clauses) + "."
    return sentence[0].upper() + sentence[1:]


def describe_policy(policy) -> str:
    """The sentence for a saved policy (its steps prefetched with users, schedules, teams)."""
    steps = [(s.delay_minutes, list(s.users.all()), list(s.schedules.all()), list(s.teams.all()))
             for s in policy.steps.all()]
    return describe_steps(steps, policy.repeat_count, policy.repeat_delay_minutes)
