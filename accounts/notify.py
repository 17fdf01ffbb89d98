"""One way to tell a person something, by email or text message (SMS), through the outbox.

`notify(recipient, message)` writes one outbox row in the caller's unit of work, on the channel
the recipient chose; `flask referrals deliver` sends it later, with the outbox's lease, retries
and backoff, whatever the channel. Email goes through SMTP (accounts.mail). SMS goes through the
sender named by the SMS_BACKEND setting, "package.module:callable", called as
`send(to_phone, text)` and raising SmsError to be retried. With no SMS_BACKEND (the default) text
messages stay in the outbox, unsent and logged, until a provider is configured: plugging one in is
a setting and a small function, not a change here.
"""

import enum
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from accounts.mail import MailError, send_mail
from accounts.outbox import OutboxEmail
from extensions import db, utcnow

log = logging.getLogger(__name__)


class Channel(enum.StrEnum):
    email = "email"
    sms = "sms"


class SmsError(MailError):
    """The SMS provider refused or could not be reached: the row is retried like an email."""


@dataclass(frozen=True)
class Recipient:
    """Who is told, and how: an email address or a phone number, as the channel needs."""

    channel: Channel
    address: str


@dataclass(frozen=True)
class Message:
    """What they are told. `sms_text` is the short form for a text message (else `text`)."""

    subject: str
    text: str
    sms_text: str | None = None
    kind: str | None = None  # what it tells of, for the outbox (e.g. "accepted")


def notify(
    recipient: Recipient,
    message: Message,
    *,
    referral_id=None,
    now: datetime | None = None,
) -> OutboxEmail:
    """Queue `message` for `recipient` on their channel; it goes out with the caller's commit."""
    now = now or utcnow()
    channel = Channel(recipient.channel)
    body = message.text if channel == Channel.email else (message.sms_text or message.text)
    row = OutboxEmail(
        channel=channel.value,
        to_address=recipient.address,
        subject=message.subject if channel == Channel.email else "",
        body=body,
        kind=message.kind,
        referral_id=referral_id,
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    db.session.add(row)
    return row


def sms_sender() -> Callable[[str, str], None] | None:
    """The configured SMS provider's `send(to, text)`, or None: text messages wait unsent."""
    name = (current_app.config.get("SMS_BACKEND") or "").strip()
    if not name:
        return None
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute or "send")


def channels_to_send() -> list[str]:
    """The channels `deliver` sends now: email always, SMS once a provider is configured."""
    return [Channel.email.value, *([Channel.sms.value] if sms_sender() else [])]


def send(row: OutboxEmail) -> None:
    """Send one outbox row on its channel now; MailError (or SmsError) says why it failed."""
    if row.channel == Channel.sms:
        sender = sms_sender()
        if sender is None:
            raise SmsError("no SMS_BACKEND is configured")
        try:
            sender(row.to_address, row.body)
        except SmsError:
            raise
        except Exception as exc:  # a provider's own error: retried like any failed send
            raise SmsError(f"SMS to {row.to_address} not sent: {exc}") from exc
        return
    send_mail(row.to_address, row.subject, row.body, row.html_body)
