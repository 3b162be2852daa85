"""The severity table of API.md, one dict per format. Keys are lower-case: matching is
case-insensitive. The original value is always kept on the event beside the mapped one."""

EVENTS_API = {
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
    # Datadog's $ALERT_PRIORITY
    "p1": "critical",
    "p2": "error",
    "p3": "warning",
    "p4": "info",
    "p5": "info",
    "normal": "warning",
    "low": "info",
    # Zabbix severity names
    "disaster": "critical",
    "high": "error",
    "average": "warning",
    "information": "info",
    "not classified": "info",
}

EVENTAPI = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}

SPIKE_SEVERITY = {
    "sev1": "critical",
    "sev2": "error",
    "sev3": "warning",
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "warning": "warning",
    "low": "info",
    "info": "info",
}
SPIKE_PRIORITY = {"p1": "critical", "p2": "error", "p3": "warning", "p4": "info", "p5": "info"}

TEMPERSTACK = {"critical": "critical", "medium": "warning"}

PAGERTREE_SEVERITY = {
    "sev-1": "critical",
    "sev-2": "error",
    "sev-3": "warning",
    "sev-4": "info",
    "sev-5": "info",
}
PAGERTREE_URGENCY = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "silent": "info",
}

ALERTMANAGER = {
    "critical": "critical",
    "page": "critical",
    "p1": "critical",
    "error": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "p3": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
}
GRAFANA = ALERTMANAGER
