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


# --- the other doors -----------------------------------------------------------------------

CHANGE_EVENT_EXAMPLE = {
    "routing_key": "ik_XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "payload": {
        "summary": "Build Success: Increase snapshot create timeout to 30 seconds",
        "timestamp": "2020-07-17T08:42:58.315+0000",
        "source": "acme-build-pipeline-tool-default-i-9999",
        "custom_details": {"build_state": "passed", "build_number": "2", "run_time": "1236s"},
    },
    "links": [{"href": "https://acme.example/build/2", "text": "View more details in Acme!"}],
}

EVENTS_V1_EXAMPLE = {
    "service_key": "ik_XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "event_type": "trigger",
    "incident_key": "srv01/HTTP",
    "description": "FAILURE for production/HTTP on machine srv01.acme.com",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
    "details": {"ping time": "1500ms", "load avg": 0.75},
}

EVENTAPI_EXAMPLE = {
    "summary": "K8s prod API 5xx spike",
    "severity": "high",
    "labels": {"service": "api", "env": "prod"},
    "details": "5xx spiking since 12:03 UTC",
    "entityId": "svc-api",
    "runbookId": "rb-5xx",
    "team": "sre",
}

PAGERTREE_EXAMPLE = {
    "event_type": "create",
    "Id": "example-id-123",
    "Title": "Example Incident Title",
    "Description": "Example Incident Description",
    "Tags": ["a", "b"],
    "Meta": {"incident": True, "incident_severity": "SEV-1"},
}

TEMPERSTACK_EXAMPLE = {
    "alert_name": "Multiple requests are failing.",
    "status": "Alarm",
    "alert_priority": "Critical",
    "alert_id": "alert-12345",
    "description": "Requests to the checkout API are failing with 5xx.",
    "alert_url": "https://monitoring.example.com/alerts/alert-12345",
    "metric_name": "http_5xx_rate",
    "resource_id": "res-001",
    "resource_name": "checkout-api",
    "resource_type": "API",
    "run_book_url": "https://runbooks.example.com/checkout-5xx",
}

SPIKE_EXAMPLE = {
    "title": "CPU usage above 90% on api-1",
    "body": {"host": "api-1", "cpu": "93%"},
    "severity": "sev1",
    "priority": "p1",
}

ALERTMANAGER_EXAMPLE = {
    "version": "4",
    "groupKey": '{}:{alertname="KubeJobCompletion"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "vigil",
    "groupLabels": {"alertname": "KubeJobCompletion"},
    "commonLabels": {"alertname": "KubeJobCompletion", "severity": "warning"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KubeJobCompletion", "severity": "warning", "namespace": "default"},
            "annotations": {"summary": "Job default/init is taking more than one hour to complete."},
            "startsAt": "2019-12-13T08:57:35.095800493Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example/graph?g0.expr=kube_job_status_succeeded",
            "fingerprint": "c6eadffa33fcdf37",
        }
    ],
}

GRAFANA_EXAMPLE = {
    "receiver": "Vigil",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
            "annotations": {
                "description": "The system has high memory usage",
                "runbook_url": "https://myrunbook.example/runbook/1234",
                "summary": "This alert was triggered for zone us-1",
            },
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana",
            "dashboardURL": "",
            "panelURL": "",
            "imageURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
            "valueString": "[ var='B' labels={} value=44.2 ]",
        }
    ],
    "groupLabels": {},
    "commonLabels": {"team": "blue"},
    "commonAnnotations": {},
    "externalURL": "https://grafana.example/",
    "version": "1",
    "groupKey": "{}:{}",
    "truncatedAlerts": 0,
    "title": "[FIRING:1]  (blue)",
    "state": "alerting",
    "message": "**Firing**",
}


class ChangePayloadSerializer(serializers.Serializer):
    summary = serializers.CharField(help_text="Required.")
    source = serializers.CharField(required=False)
    timestamp = serializers.CharField(required=False, help_text="ISO 8601; `+0000` offsets accepted.")
    custom_details = serializers.JSONField(required=False)


class ChangeEventRequest(serializers.Serializer):
    routing_key = serializers.CharField(help_text="The integration key (or the X-Routing-Key header).")
    payload = ChangePayloadSerializer()
    links = LinkSerializer(many=True, required=False)


class ChangeAccepted(serializers.Serializer):
    status = serializers.CharField(default="success")
    message = serializers.CharField(default="Change event processed")


class EventsV1Request(serializers.Serializer):
    service_key = serializers.CharField(help_text="The integration key.")
    event_type = serializers.CharField(help_text="trigger | acknowledge | resolve.")
    incident_key = serializers.CharField(
        required=False, help_text="The dedup key; generated and returned on a trigger without one."
    )
    description = serializers.CharField(required=False, help_text="The summary; required on trigger.")
    details = serializers.JSONField(required=False)
    client = serializers.CharField(required=False)
    client_url = serializers.URLField(required=False)
    contexts = serializers.ListField(child=serializers.JSONField(), required=False)


class EventsV1Accepted(serializers.Serializer):
    status = serializers.CharField(default="success")
    message = serializers.CharField(default="Event processed")
    incident_key = serializers.CharField()


class EventApiRequest(serializers.Serializer):
    summary = serializers.CharField(help_text="Required, non-empty.")
    severity = serializers.ChoiceField(choices=["low", "medium", "high", "critical"])
    labels = serializers.DictField(child=serializers.CharField(), required=False,
                                   help_text="An object of strings, numbers or booleans.")
    details = serializers.CharField(required=False)
    entityId = serializers.CharField(required=False)
    runbookId = serializers.CharField(required=False)
    dedupKey = serializers.CharField(
        required=False, help_text="Else a stable fingerprint of summary + sorted labels."
    )
    action = serializers.ChoiceField(choices=["trigger", "acknowledge", "resolve"], required=False)


class PagerTreeRequest(serializers.Serializer):
    event_type = serializers.CharField(help_text="create | acknowledge | resolve; other values are ignored.")
    Id = serializers.CharField(help_text="The dedup key (also read as `id`; a number is accepted).")
    Title = serializers.CharField(required=False, help_text="Also `title`.")
    Description = serializers.CharField(required=False, help_text="Also `description`.")
    Tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="Also `tags`.")
    Meta = serializers.JSONField(required=False, help_text="Also `meta`; `incident_severity` SEV-1..SEV-5.")
    urgency = serializers.CharField(required=False, help_text="silent | low | medium | high | critical.")


class TemperstackRequest(serializers.Serializer):
    alert_name = serializers.CharField()
    status = serializers.CharField(help_text="Alarm | OK (case-insensitive); OK resolves.")
    alert_priority = serializers.CharField(required=False, help_text="Critical | Medium.")
    alert_id = serializers.CharField(required=False, help_text="The dedup key; else alert_name.")
    description = serializers.CharField(required=False)
    alert_url = serializers.URLField(required=False)
    metric_name = serializers.CharField(required=False)
    resource_id = serializers.CharField(required=False)
    resource_name = serializers.CharField(required=False)
    resource_type = serializers.CharField(required=False)
    run_book_url = serializers.URLField(required=False)


class SpikeRequest(serializers.Serializer):
    title = serializers.CharField(required=False, help_text="The dedup key among the key's open incidents.")
    body = serializers.JSONField(required=False, help_text="A string or an object.")
    severity = serializers.CharField(required=False, help_text="sev1..sev3, critical, high, medium, low...")
    priority = serializers.CharField(required=False, help_text="p1..p5, read when severity is absent.")
    status = serializers.CharField(required=False, help_text="resolve or resolved resolves.")


class SpikeAccepted(EventAccepted):
    Ok = serializers.BooleanField(default=True)


class AlertmanagerAlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    labels = serializers.DictField(child=serializers.CharField())
    annotations = serializers.DictField(child=serializers.CharField(), required=False)
    startsAt = serializers.CharField(required=False)
    endsAt = serializers.CharField(required=False)
    generatorURL = serializers.CharField(required=False)
    fingerprint = serializers.CharField(required=False, help_text="The dedup key; else a hash of the labels.")


class AlertmanagerRequest(serializers.Serializer):
    version = serializers.CharField(required=False)
    groupKey = serializers.CharField(required=False)
    truncatedAlerts = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=["firing", "resolved"], required=False)
    receiver = serializers.CharField(required=False)
    groupLabels = serializers.DictField(child=serializers.CharField(), required=False)
    commonLabels = serializers.DictField(child=serializers.CharField(), required=False)
    commonAnnotations = serializers.DictField(child=serializers.CharField(), required=False)
    externalURL = serializers.CharField(required=False)
    alerts = AlertmanagerAlertSerializer(many=True)


class GrafanaAlertSerializer(AlertmanagerAlertSerializer):
    silenceURL = serializers.CharField(required=False)
    dashboardURL = serializers.CharField(required=False)
    panelURL = serializers.CharField(required=False)
    imageURL = serializers.CharField(required=False)
    values = serializers.JSONField(required=False, allow_null=True)
    valueString = serializers.CharField(required=False)


class GrafanaRequest(AlertmanagerRequest):
    alerts = GrafanaAlertSerializer(many=True)
    title = serializers.CharField(required=False)
    state = serializers.CharField(required=False, help_text="alerting | ok.")
    message = serializers.CharField(required=False)
    orgId = serializers.IntegerField(required=False)


class EventOutcome(serializers.Serializer):
    dedup_key = serializers.CharField()
    incident_id = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField(help_text="created, updated, resolved, ignored, test, heartbeat, rejected...")


class BatchAccepted(serializers.Serializer):
    status = serializers.CharField(default="success")
    events = EventOutcome(many=True)


class Pong(serializers.Serializer):
    status = serializers.CharField(default="success")
    message = serializers.CharField(default="PONG")
