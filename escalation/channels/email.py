"""Email through Django's mail backend (SMTP in production), text and HTML parts."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from escalation import messages
from escalation.channels.base import BadAddress, Channel, Delivered, Outcome, Retry
from escalation.models import ContactMethod, Notification


class EmailChannel(Channel):
    kind = "email"
    label = "Email"
    verb = "Emailed"

    def check_address(self, address: str) -> None:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise BadAddress(exc.messages[0]) from None

    def send(self, notification: Notification, context: dict) -> Outcome:
        return self._deliver(messages.build_email(notification, context))

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        message = EmailMessage(
            subject=messages.one_line(subject), body=text, from_email=settings.DEFAULT_FROM_EMAIL,
            to=[method.address], headers={"Auto-Submitted": "auto-generated"},
        )
        return self._deliver(message)

    def _deliver(self, message: EmailMessage) -> Outcome:
        try:
            message.connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
            message.send(fail_silently=False)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            return Retry(f"SMTP refused: {exc}")
        except (smtplib.SMTPException, OSError) as exc:  # OSError covers timeouts and refusals
            return Retry(f"SMTP: {type(exc).__name__}: {exc}")
        return Delivered()
