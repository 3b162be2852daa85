"""Request and response shapes of the doors, for the OpenAPI document only (the doors
parse with their formats, not with these serializers). Door specs name them; their examples
live with the formats."""

from rest_framework import serializers


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
    message = serializers.CharField(required=False, help_text="The title when `title` is absent (apprise's spike://).")
    description = serializers.JSONField(required=False, help_text="The details when `body` is absent.")


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


# --- Opsgenie's Alert API -------------------------------------------------------------------


class OpsgenieCreateRequest(serializers.Serializer):
    message = serializers.CharField(help_text="The incident's title, kept as sent.")
    alias = serializers.CharField(required=False, max_length=512, help_text="The dedup key.")
    description = serializers.CharField(required=False)
    responders = serializers.ListField(child=serializers.JSONField(), required=False)
    visibleTo = serializers.ListField(child=serializers.JSONField(), required=False)
    actions = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    details = serializers.DictField(child=serializers.CharField(), required=False, help_text="The labels.")
    entity = serializers.CharField(required=False)
    source = serializers.CharField(required=False)
    priority = serializers.ChoiceField(choices=["P1", "P2", "P3", "P4", "P5"], required=False,
                                       help_text="P1 critical, P2 error, P3 warning (the default), P4/P5 info.")
    user = serializers.CharField(required=False)
    note = serializers.CharField(required=False)


class OpsgenieActionRequest(serializers.Serializer):
    """Close, acknowledge and un-acknowledge need no body; notes need `note`, the updates
    `message` or `description`."""

    user = serializers.CharField(required=False)
    source = serializers.CharField(required=False)
    note = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    description = serializers.CharField(required=False)


class OpsgenieAccepted(serializers.Serializer):
    result = serializers.CharField(default="Request will be processed")
    took = serializers.FloatField()
    requestId = serializers.UUIDField()


class OpsgenieError(serializers.Serializer):
    message = serializers.CharField()
    took = serializers.FloatField()
    requestId = serializers.UUIDField()


class OpsgenieRequestStatusData(serializers.Serializer):
    success = serializers.BooleanField()
    action = serializers.CharField()
    processedAt = serializers.DateTimeField()
    alertId = serializers.CharField(help_text="The Vigil incident id.")
    alias = serializers.CharField()
    isSuccess = serializers.BooleanField()
    status = serializers.CharField()


class OpsgenieRequestStatus(serializers.Serializer):
    data = OpsgenieRequestStatusData()
    took = serializers.FloatField()
    requestId = serializers.UUIDField()
