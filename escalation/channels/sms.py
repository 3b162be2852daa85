"""SMS through Twilio's Messages API. A page fits one 160-character GSM-7 segment where it
can, and carries its reply codes: "Vigil #42 CRIT: Disk full on srv01. Reply 1a ack, 1c
resolve". The number names this page for this person (`phone.reply_number`), so a person
with two open pages is never ambiguous; the replies land in `escalation.phone_views`."""

from __future__ import annotations

from escalation.channels import phone
from escalation.channels.base import BadAddress, Channel, Failed, Outcome
from escalation.models import Notification
from incidents.models import Incident

SEVERITY = {"critical": "CRIT", "error": "ERR", "warning": "WARN", "info": "INFO"}


def page_text(notification: Notification, context: dict) -> str:
    incident = context["incident"]
    head = f"Vigil #{incident.pk} "
    if notification.kind == Notification.Kind.RECOVERY:
        return phone.fit_sms(head + "RESOLVED: ", incident.summary, "")
    if notification.kind == Notification.Kind.SUMMARY:
        return phone.fit_sms(head + f"FLAPPING, {context['held_count']} held, now {incident.status}: ",
                             incident.summary, "")
    head += SEVERITY.get(incident.severity, incident.severity.upper()) + ": "
    number = phone.reply_number(notification.user, incident)
    if incident.status == Incident.Status.TRIGGERED:
        tail = f". Reply {number}a ack, {number}c resolve"
    else:
        tail = f". Reply {number}c resolve"
    return phone.fit_sms(head, incident.summary, tail)


class SmsChannel(Channel):
    kind = "sms"
    label = "SMS"
    verb = "Texted"
    interactive = True

    @classmethod
    def configured(cls) -> bool:
        return phone.sms_configured()

    def check_address(self, address: str) -> str:
        return phone.e164(address)

    def send(self, notification: Notification, context: dict) -> Outcome:
        return self._send(notification.address, lambda: page_text(notification, context))

    def send_message(self, method, subject: str, text: str) -> Outcome:
        """A verification code or a test page: the text as it is (Twilio splits long ones)."""
        return self._send(method.address, lambda: text)

    def _send(self, address: str, body) -> Outcome:
        if not self.configured():
            return Failed("Twilio is not configured on this installation")
        try:
            to = phone.e164(address)
        except BadAddress as exc:
            return Failed(f"{address}: {exc}")
        body = body()
        twilio = phone.client()
        return phone.call_twilio(
            lambda: twilio.messages.create(to=to, body=body, **phone.sender()), "message",
        )



