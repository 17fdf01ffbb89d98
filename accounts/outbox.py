"""The email outbox: messages written in the same transaction as the change they tell of.

`flask referrals deliver` sends them (under a lease, with backoff). It lives here, below
referrals, so account emails (password resets, invitations) use it too: a request only writes a
row and never waits for the mail server, whether the account exists or not.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from extensions import UTCDateTime, db, utcnow


class OutboxEmail(db.Model):
    """An email waiting to go out, written in the same transaction as the change it tells of."""

    __tablename__ = "outbox_email"
    __table_args__ = (Index("ix_outbox_email_pending", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # "email", or "sms" (accounts.notify): `to_address` is then a phone number.
    channel: Mapped[str] = mapped_column(String(10), default="email", server_default="email")
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(20))
    # A name, not an import: the referral table is defined above this module (referrals/).
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # gave up after many tries
    last_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<OutboxEmail {self.id} to={self.to_address!r} attempts={self.attempts}>"


def queue_email(to: str, subject: str, body: str, html_body: str | None = None) -> OutboxEmail:
    """Write an email to the outbox; it goes out with the caller's commit, or not at all."""
    email = OutboxEmail(to_address=to, subject=subject, body=body, html_body=html_body)
    db.session.add(email)
    db.session.flush()
    return email
