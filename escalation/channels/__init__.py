"""The channel registry: one module per way of reaching a person, one line here each.

Adding SMS, voice, Slack or push is a module with a `Channel` subclass, its line in
CHANNELS, and its `ContactMethod.Kind` choice (a test fails while a kind has no channel)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from escalation.channels.apprise import AppriseChannel
from escalation.channels.base import BadAddress, Channel, Delivered, Failed, Outcome, Retry
from escalation.channels.email import EmailChannel
from escalation.channels.ntfy import NtfyChannel
from escalation.channels.push import PushChannel
from escalation.channels.slack import SlackChannel
from escalation.channels.sms import SmsChannel
from escalation.channels.voice import VoiceChannel
from escalation.channels.webhook import WebhookChannel

CHANNELS: dict[str, type[Channel]] = {
    EmailChannel.kind: EmailChannel,
    WebhookChannel.kind: WebhookChannel,
    SmsChannel.kind: SmsChannel,
    VoiceChannel.kind: VoiceChannel,
    SlackChannel.kind: SlackChannel,
    PushChannel.kind: PushChannel,
    NtfyChannel.kind: NtfyChannel,
    AppriseChannel.kind: AppriseChannel,
}

__all__ = ["CHANNELS", "BadAddress", "Channel", "Delivered", "Failed", "Outcome", "Retry",
           "channel_for", "check_contact_address", "configured_kinds"]


def configured_kinds() -> list[type[Channel]]:
    """The channels a person may add a contact method for on this installation."""
    return [cls for cls in CHANNELS.values() if cls.configured()]


def channel_for(kind: str) -> Channel | None:
    cls = CHANNELS.get(kind)
    return cls() if cls is not None else None


def check_contact_address(kind: str, address: str) -> str:
    """Raise ValidationError({"address": [why]}) unless `kind`'s channel can use `address`;
    return the address to store (a channel may normalise it: phone numbers become E.164).
    Does I/O (a webhook's host is resolved): call it from forms, serializers and actions,
    never from a model method."""
    channel = channel_for(kind)
    if channel is None:
        raise ValidationError({"kind": [f"unknown channel {kind!r}"]})
    try:
        normalised = channel.check_address(address)
    except BadAddress as exc:
        raise ValidationError({"address": [str(exc)]}) from None
    return normalised or address
