"""Escalation engine (issue 4 builds it out)."""


def advance_escalation(incident_id: int) -> None:
    return None


def send_recovery(incident_id: int) -> None:
    return None
