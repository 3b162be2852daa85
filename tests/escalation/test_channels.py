"""The channel registry: every kind of contact method resolves to its channel, and each
channel checks its own addresses (the API serializer and the admin form call the check)."""

import pytest
from django.core.exceptions import ValidationError

from escalation.channels import CHANNELS, Channel, channel_for, check_contact_address
from escalation.channels.email import EmailChannel
from escalation.channels.webhook import WebhookChannel
from escalation.models import ContactMethod


def test_every_contact_method_kind_has_a_registered_channel():
    assert set(CHANNELS) == set(ContactMethod.Kind.values)
    for kind, cls in CHANNELS.items():
        assert issubclass(cls, Channel) and cls.kind == kind
        assert cls.label == ContactMethod.Kind(kind).label and cls.verb


def test_the_registry_resolves_email_to_the_email_channel():
    assert isinstance(channel_for(ContactMethod.Kind.EMAIL), EmailChannel)
    assert channel_for("email").verb == "Emailed"


def test_the_registry_resolves_webhook_to_the_webhook_channel():
    assert isinstance(channel_for(ContactMethod.Kind.WEBHOOK), WebhookChannel)
    assert channel_for("webhook").verb == "Webhook to"


def test_an_unknown_kind_has_no_channel_and_no_valid_address():
    assert channel_for("carrier-pigeon") is None
    with pytest.raises(ValidationError) as caught:
        check_contact_address("carrier-pigeon", "coop 3")
    assert "kind" in caught.value.message_dict


def test_each_channel_checks_its_own_addresses():
    check_contact_address("email", "alice@example.com")
    with pytest.raises(ValidationError) as caught:
        check_contact_address("email", "not an address")
    assert caught.value.message_dict == {"address": ["Enter a valid email address."]}
    with pytest.raises(ValidationError) as caught:
        check_contact_address("webhook", "http://127.0.0.1/")
    assert "non-public address" in caught.value.message_dict["address"][0]
