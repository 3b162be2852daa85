"""Voice calls through Twilio's Calls API. Twilio fetches the call's TwiML from Vigil
(`escalation.phone_views.voice`, signed by Twilio): it reads the summary and gathers one
key, 1 acknowledge, 2 resolve, 3 escalate, posted to the gather endpoint that acts. Only
pages are called: nobody is woken to hear that an incident is resolved."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from escalation.channels import phone
from escalation.channels.base import BadAddress, Channel, Failed, Outcome
from escalation.models import Notification


def twiml_url(notification: Notification) -> str:
    return settings.SITE_URL + reverse("twilio-voice", args=[notification.pk])


class VoiceChannel(Channel):
    kind = "voice"
    label = "Voice call"
    verb = "Called"
    interactive = True
    pages_only = True

    @classmethod
    def configured(cls) -> bool:
        return phone.voice_configured()

    def check_address(self, address: str) -> str:
        return phone.e164(address)

    def send(self, notification: Notification, context: dict) -> Outcome:
        if notification.kind != Notification.Kind.PAGE:
            return Failed("voice calls are only placed for pages")
        return self._call(notification.address, url=twiml_url(notification), method="POST")

    def send_message(self, method, subject: str, text: str) -> Outcome:
        """Read a verification code or a test message out, twice."""
        response = VoiceResponse()
        response.say(text)
        response.pause(length=1)
        response.say(text)
        return self._call(method.address, twiml=str(response))

    def _call(self, address: str, **how) -> Outcome:
        if not self.configured():
            return Failed("Twilio voice is not configured on this installation")
        try:
            to = phone.e164(address)
        except BadAddress as exc:
            return Failed(f"{address}: {exc}")
        twilio = phone.client()
        return phone.call_twilio(
            lambda: twilio.calls.create(to=to, from_=settings.TWILIO_FROM_NUMBER, **how), "call",
        )
