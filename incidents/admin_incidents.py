"""Admin for incidents, alerts, events and the timeline."""
