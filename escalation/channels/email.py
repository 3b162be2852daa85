"""Email through Django's mail backend (SMTP in production), text and HTML parts."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email

from escalation import messages
from escalation.channels.base import BadAddress, Channel, Delivered, Outcome, Retry
from escalation.models import Notification


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
        message = messages.build_email(notification, context)
        try:
            message.connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
            message.send(fail_silently=False)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            return Retry(f"SMTP refused: {exc}")
        except (smtplib.SMTPException, OSError) as exc:  # OSError covers timeouts and refusals
            return Retry(f"SMTP: {type(exc).__name__}: {exc}")
        return Delivered()
