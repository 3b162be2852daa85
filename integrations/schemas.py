"""Request and response shapes of the doors, for the OpenAPI document only (the doors
parse with their formats, not with these serializers)."""

from rest_framework import serializers

EVENTS_V2_EXAMPLE = {
    "routing_key": "ik_XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "event_action": "trigger",
    "dedup_key": "disk-full-srv01",
    "payload": {
        "summary": "Disk usage > 90% on srv01",
        "severity": "critical",
        "source": "prometheus",
        "component": "disk",
        "group": "infrastructure",
        "class": "disk",
        "timestamp": "2026-11-22T12:03:00Z",
        "custom_details": {"current_usage": "93%"},
    },
    "links": [{"href": "https://grafana.example/d/disk", "text": "Dashboard"}],
    "images": [],
    "client": "Prometheus",
    "client_url": "https://prometheus.example",
}


class LinkSerializer(serializers.Serializer):
    href = serializers.URLField()
    text = serializers.CharField(required=False)


class ImageSerializer(serializers.Serializer):
    src = serializers.URLField()
    href = serializers.URLField(required=False)
    alt = serializers.CharField(required=False)


class EventsV2PayloadSerializer(serializers.Serializer):
    summary = serializers.CharField(help_text="Required on trigger; cut to 1024 characters.")
    severity = serializers.CharField(
        help_text="critical, error, warning, info; Datadog P1-P5/Normal/Low; Zabbix severity names."
    )
    source = serializers.CharField()
    component = serializers.CharField(required=False)
    group = serializers.CharField(required=False)
    # "class" is a Python keyword; the field is named in the document by the example.
    timestamp = serializers.CharField(required=False)
    custom_details = serializers.JSONField(required=False)


class EventsV2Request(serializers.Serializer):
    routing_key = serializers.CharField(help_text="The integration key (or the X-Routing-Key header).")
    event_action = serializers.CharField(help_text="trigger | acknowledge | resolve (case-insensitive).")
    dedup_key = serializers.CharField(required=False, max_length=None)
    payload = EventsV2PayloadSerializer(required=False)
    links = LinkSerializer(many=True, required=False)
    images = ImageSerializer(many=True, required=False)
    client = serializers.CharField(required=False)
    client_url = serializers.URLField(required=False)


class EventAccepted(serializers.Serializer):
    status = serializers.CharField(default="success")
    message = serializers.CharField(default="Event processed")
    dedup_key = serializers.CharField()
    incident_id = serializers.IntegerField(allow_null=True)


class ErrorBody(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())
