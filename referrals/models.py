"""Members, consent, referrals, and their events, messages, notifications, outbox and audit."""

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import NetworkOrganization, User
from accounts.outbox import OutboxEmail  # noqa: F401  (its home before issue 10)
from directory.models import Service
from extensions import UTCDateTime, db, utcnow
from referrals.states import (
    Action,
    CancelReason,
    DeclineReason,
    Outcome,
    Status,
    Urgency,
    is_open,
)


def _in(column: str, values) -> str:
    """A CHECK expression limiting a text column to an enum's values."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _nullable_in(column: str, values) -> str:
    return f"{column} IS NULL OR {_in(column, values)}"


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


# The member fields a consent can allow a receiving agency to see. The member's id and the
# referral itself (need, note, urgency) always travel with the referral.
SHAREABLE_MEMBER_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "email",
    "preferred_language",
    "address",
    "postal_code",
    "needs",
)


# What an agency that has not joined the network may see of a member, within the consent's
# scope: enough to reach them, never more than a member agency would see.
LINK_MEMBER_FIELDS = ("first_name", "phone", "email")


class Delivery(enum.StrEnum):
    """How a referral reaches the agency."""

    network = "network"  # its inbox in Wraparound: the agency has joined
    email = "email"  # an email to the service's intake address, with a link to this referral
    phone = "phone"  # the coordinator calls, then records the agency's answer themself


class ConsentMethod(enum.StrEnum):
    written = "written"
    verbal = "verbal"
    electronic = "electronic"


class Member(db.Model):
    """A person on a coordination organization's caseload."""

    __tablename__ = "member"
    __table_args__ = (
        Index("ix_member_caseload", "organization_id", "last_name", "first_name"),
        CheckConstraint("contact_by IS NULL OR contact_by IN ('email', 'sms')", name="contact_by"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("network_organization.id", ondelete="RESTRICT")
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    preferred_language: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(500))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    needs: Mapped[str | None] = mapped_column(Text)
    # The member agreed to hear how their referrals go, by "email" or "sms" (None: not asked,
    # or said no); when they agreed. Not a field agencies ever see (SHAREABLE_MEMBER_FIELDS).
    contact_by: Mapped[str | None] = mapped_column(String(10))
    contact_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped[NetworkOrganization] = relationship()
    created_by: Mapped[User | None] = relationship()
    consents: Mapped[list["Consent"]] = relationship(
        back_populates="member", order_by="Consent.given_at.desc()"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.full_name!r}>"


class Consent(db.Model):
    """The member's permission to share named fields with the agencies they are referred to."""

    __tablename__ = "consent"
    __table_args__ = (CheckConstraint(_in("method", ConsentMethod), name="method"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    member_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    given_by: Mapped[str] = mapped_column(String(200))  # the member, or a guardian by name
    method: Mapped[str] = mapped_column(String(20))
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)  # SHAREABLE_MEMBER_FIELDS
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_on: Mapped[date | None] = mapped_column(Date)  # last day it is valid
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )

    member: Mapped[Member] = relationship(back_populates="consents")
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    def is_valid_on(self, day: date) -> bool:
        """In force on `day`: not revoked and not past its last valid day."""
        return self.revoked_at is None and (self.expires_on is None or day <= self.expires_on)

    def __repr__(self) -> str:
        return f"<Consent {self.id} member={self.member_id} {self.method}>"


class Referral(db.Model):
    """A request, with consent, that an agency's service help a member; closed by an outcome."""

    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint(_in("status", Status), name="status"),
        CheckConstraint(_in("urgency", Urgency), name="urgency"),
        CheckConstraint(_nullable_in("decline_reason", DeclineReason), name="decline_reason"),
        CheckConstraint(_nullable_in("cancel_reason", CancelReason), name="cancel_reason"),
        CheckConstraint(_nullable_in("outcome", Outcome), name="outcome"),
        CheckConstraint(_in("delivery", Delivery), name="delivery"),
        # Agency inbox and coordinator dashboard: by side, status, newest first.
        Index("ix_referral_inbox", "receiving_org_id", "status", "sent_at"),
        Index("ix_referral_outbox", "sending_org_id", "status", "sent_at"),
        Index("ix_referral_member_service", "member_id", "service_id"),
        Index("ix_referral_due", "status", "due_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.id", ondelete="RESTRICT"))
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("service.id", ondelete="SET NULL")
    )
    service_name: Mapped[str] = mapped_column(String(500))  # kept if the listing goes away
    receiving_org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("network_organization.id", ondelete="RESTRICT")
    )
    sending_org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("network_organization.id", ondelete="RESTRICT")
    )
    sending_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    consent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("consent.id", ondelete="SET NULL")
    )
    need: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(20), default=Urgency.routine.value)
    status: Mapped[str] = mapped_column(String(20))
    decline_reason: Mapped[str | None] = mapped_column(String(40))
    decline_text: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    cancel_text: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(40))
    outcome_text: Mapped[str | None] = mapped_column(Text)
    forwarded_from_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="SET NULL"), index=True
    )
    forwarded_to_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the receiving agency answers by then
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Accepted, and no outcome recorded within OUTCOME_REMINDER_DAYS business days (the sweep
    # sets it; recording an outcome or cancelling clears it). `…_notified_at` stays: reminded once.
    outcome_overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    outcome_overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery: Mapped[str] = mapped_column(
        String(20), default=Delivery.network.value, server_default=Delivery.network.value
    )
    # "No referral dies" (referrals/next_best.py): the referral this one was re-sent from, after
    # a decline or no answer, by the coordinator's click or by the sweep (history kept on both).
    resent_from_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="SET NULL"), index=True
    )
    # Ticked at sending: if the agency does not answer in time, the sweep re-sends it to the
    # next best service; `escalated_at` records that it did (once per referral, so per window).
    auto_escalate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The receiving agency's colleague who handles it ("Assigned to me"); agency-internal work.
    assigned_to_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}

    member: Mapped[Member] = relationship()
    service: Mapped[Service | None] = relationship()
    receiving_org: Mapped[NetworkOrganization] = relationship(foreign_keys=[receiving_org_id])
    sending_org: Mapped[NetworkOrganization] = relationship(foreign_keys=[sending_org_id])
    sending_user: Mapped[User | None] = relationship(foreign_keys=[sending_user_id])
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    consent: Mapped[Consent | None] = relationship()
    forwarded_from: Mapped["Referral | None"] = relationship(
        foreign_keys=[forwarded_from_id], remote_side=[id]
    )
    forwarded_to: Mapped["Referral | None"] = relationship(
        foreign_keys=[forwarded_to_id], remote_side=[id], post_update=True
    )
    resent_from: Mapped["Referral | None"] = relationship(
        foreign_keys=[resent_from_id], remote_side=[id]
    )
    events: Mapped[list["ReferralEvent"]] = relationship(
        back_populates="referral", order_by="ReferralEvent.at"
    )
    messages: Mapped[list["ReferralMessage"]] = relationship(
        back_populates="referral", order_by="ReferralMessage.created_at"
    )

    @property
    def is_open(self) -> bool:
        return is_open(self.status)

    def is_overdue_at(self, now: datetime) -> bool:
        """Still waiting for an answer after its response window (whether or not swept yet)."""
        return self.status == Status.sent and (self.overdue or self.due_at <= now)

    @property
    def is_outcome_overdue(self) -> bool:
        """Accepted, and the sweep found no outcome recorded by the outcome deadline."""
        return self.status == Status.accepted and bool(self.outcome_overdue)

    def __repr__(self) -> str:
        return f"<Referral {self.id} {self.status} {self.service_name!r}>"


# Events that are not a step of the state machine: a flag the sweep raises on a referral, the
# mark left on a referral when it is re-sent elsewhere ("resent" by the coordinator,
# "escalated" by the sweep; referrals/next_best.py), and the agency handing it to a colleague
# ("assigned"; referrals/agency_work.py).
SWEEP_EVENT_ACTIONS = ("overdue", "outcome_overdue", "resent", "escalated", "assigned")


class ReferralEvent(db.Model):
    """One step of a referral's history, seen by both sides; the only record of transitions."""

    __tablename__ = "referral_event"
    __table_args__ = (
        CheckConstraint(_in("action", [*Action, *SWEEP_EVENT_ACTIONS]), name="action"),
        CheckConstraint(_nullable_in("from_status", Status), name="from_status"),
        CheckConstraint(_in("to_status", Status), name="to_status"),
        Index("ix_referral_event_referral_at", "referral_id", "at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    referral_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="CASCADE")
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(  # None: the system (the sweeps)
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    # Taken through an email link (actor None): which link, so "who" is known.
    link_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("referral_link.id", ondelete="SET NULL")
    )

    referral: Mapped[Referral] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def is_transition(self) -> bool:
        return self.action not in SWEEP_EVENT_ACTIONS

    def __repr__(self) -> str:
        return f"<ReferralEvent {self.id} {self.action} {self.from_status}->{self.to_status}>"


class ReferralMessage(db.Model):
    """A note in the thread between the coordinator's side and the agency's side."""

    __tablename__ = "referral_message"
    __table_args__ = (Index("ix_referral_message_referral_at", "referral_id", "created_at"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    referral_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    link_id: Mapped[uuid.UUID | None] = mapped_column(  # written through an email link
        Uuid, ForeignKey("referral_link.id", ondelete="SET NULL")
    )

    referral: Mapped[Referral] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ReferralMessage {self.id} referral={self.referral_id}>"


class ReferralNote(db.Model):
    """An internal note of the receiving agency's staff about a referral: never shown to the
    coordinator's side (nor through an email link), apart from the message thread."""

    __tablename__ = "referral_note"
    __table_args__ = (Index("ix_referral_note_referral_at", "referral_id", "created_at"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    referral_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral] = relationship()
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ReferralNote {self.id} referral={self.referral_id}>"


class ReferralLink(db.Model):
    """An emailed link that lets an agency without an account act on one referral.

    Only the SHA-256 of the token is stored; the token itself is in the email alone. A link is
    dead once expired or revoked (re-sending revokes the previous one), and refused once its
    referral is closed.
    """

    __tablename__ = "referral_link"

    id: Mapped[uuid.UUID] = _uuid_pk()
    referral_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sent_to: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The holder asked the coordinator for a new link (at most once an hour).
    new_link_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )

    referral: Mapped[Referral] = relationship()
    created_by: Mapped[User | None] = relationship()

    def is_live_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def __repr__(self) -> str:
        return f"<ReferralLink {self.id} referral={self.referral_id}>"


class MemberStatusLink(db.Model):
    """A private link that shows a member how their referral goes, with no account.

    One link covers a referral's chain: the referral the coordinator sent (`referral_id`, the
    chain's first) and those it became when forwarded or re-sent, so the member follows one need
    to the place that takes it. Only the SHA-256 of the token is stored (referrals/links.py);
    each status message carries a new token and the previous one dies (rotated, as an agency's
    link is when re-sent). Revoked when the member withdraws their consent to be contacted.
    """

    __tablename__ = "member_status_link"
    __table_args__ = (Index("ix_member_status_link_chain", "member_id", "referral_id"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.id", ondelete="CASCADE"))
    referral_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    sent_to: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()
    referral: Mapped[Referral] = relationship()

    def __repr__(self) -> str:
        return f"<MemberStatusLink {self.id} member={self.member_id} referral={self.referral_id}>"


# A notice for each status a referral reaches, and for: overdue answers and outcomes, a message,
# link_requested (an agency without an account asks for a new link) and escalated (no answer in
# time: the sweep re-sent it to the next best service), assigned (a colleague at the agency
# gave you the referral to handle). Each value is its name.
NotificationKind = enum.StrEnum(
    "NotificationKind",
    [
        *map(str, Status),
        "overdue",
        "outcome_overdue",
        "message",
        "link_requested",
        "escalated",
        "assigned",
    ],
    module=__name__,
)


class Notification(db.Model):
    """An in-app notice for one user about one referral; unread until `read_at`."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(_in("kind", NotificationKind), name="kind"),
        Index("ix_notification_user_unread", "user_id", "read_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    referral: Mapped[Referral | None] = relationship()

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} user={self.user_id}>"


# What an audit row records: a read or change of a record, one of the referral actions, a
# message, a revoked consent or link, or denied (a read of another organization's record,
# refused and answered 404). Each value is its name.
AuditAction = enum.StrEnum(
    "AuditAction",
    [
        "view",
        "create",
        "update",
        "delete",
        "export",
        *map(str, Action),
        "message",
        "revoke",
        "denied",
    ],
    module=__name__,
)


class AuditObject(enum.StrEnum):
    member = "member"
    referral = "referral"
    consent = "consent"
    service = "service"
    user = "user"
    organization = "organization"


class AuditLog(db.Model):
    """Who saw or changed which member, consent or referral, when, and from where."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(_in("action", AuditAction), name="action"),
        CheckConstraint(_in("object_type", AuditObject), name="object_type"),
        Index("ix_audit_log_object", "object_type", "object_id", "at"),
        Index("ix_audit_log_actor", "actor_id", "at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(String(320), default="")  # kept if the user goes
    action: Mapped[str] = mapped_column(String(20))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditLog {self.id} {self.action} {self.object_type}:{self.object_id}>"
