"""What every channel is: a kind, a label, a timeline verb, an address check and a send.

A channel only knows how to reach one kind of address once. Everything around a send is
shared by `escalation.notify`, never per channel: the row lock and the due/wanted checks,
retries with backoff, the idempotency key (the email's Message-ID, the webhook's
Idempotency-Key), the timeline line and the failure record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from escalation.models import ContactMethod, Notification


class BadAddress(ValueError):
    """The address cannot be used by this channel; the message says why (shown to the user)."""


@dataclass(frozen=True)
class Delivered:
    """The other side took the message."""


@dataclass(frozen=True)
class Retry:
    """Not delivered this time; worth another try after the backoff."""

    error: str


@dataclass(frozen=True)
class Failed:
    """Not delivered, and another try would fail the same way."""

    error: str


Outcome = Delivered | Retry | Failed


class Channel:
    kind: ClassVar[str]  # ContactMethod.Kind value
    label: ClassVar[str]
    verb: ClassVar[str]  # the timeline's "<verb> alice (address): page, step 1"
    #: The responder can answer from the message itself (acknowledge, resolve), not only
    #: through the signed link it carries. The README lists which kinds are which.
    interactive: ClassVar[bool] = False
    #: A person types the address (an email, a number, a URL). False for Web Push, whose
    #: subscription only a browser can make (/push/).
    typed_address: ClassVar[bool] = True
    #: Only pages go out on this channel: no recovery or flapping-summary notes (a phone
    #: call at 3 a.m. to say that all is well).
    pages_only: ClassVar[bool] = False

    @classmethod
    def configured(cls) -> bool:
        """False while the settings this channel needs (provider credentials) are absent:
        the kind is then hidden from people adding a contact method, and never crashes."""
        return True

    def check_address(self, address: str) -> str | None:
        """Raise BadAddress unless `address` can be used (at save; sends check again).
        May return the address in the form to store (E.164 for a phone number)."""
        raise NotImplementedError

    def send(self, notification: Notification, context: dict) -> Outcome:
        """Send once to `notification.address`. `context` is `messages.context_for` plus
        `idempotency_key` and `message_id`, the same on every attempt of this notification."""
        raise NotImplementedError

    def send_message(self, method: ContactMethod, subject: str, text: str) -> Outcome:
        """Send one message that is not about an incident (a verification code, a test
        page) to `method.address`, once, without the notification machinery: the caller
        shows the outcome to the person who asked for it. `text` is plain text."""
        raise NotImplementedError
