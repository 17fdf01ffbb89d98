"""Organizations of the network, their users and roles, and the tokens users hold."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import UTCDateTime, db, utcnow


class OrgKind(enum.StrEnum):
    coordination = "coordination"  # a Health Home / care-management organization: has members
    agency = "agency"  # a directory organization that receives referrals


class Role(enum.StrEnum):
    coordinator = "coordinator"
    agency_staff = "agency_staff"
    agency_admin = "agency_admin"
    admin = "admin"


ROLE_KINDS = {
    Role.coordinator: OrgKind.coordination,
    Role.agency_staff: OrgKind.agency,
    Role.agency_admin: OrgKind.agency,
}


class NetworkOrganization(db.Model):
    """An organization taking part in the referral network.

    Agencies are usually directory organizations (`directory_organization_id`); coordination
    organizations are not listed in the public directory. An agency that has not joined
    (`joined_at` NULL: no accounts yet) is created by its first referral, which reaches it by an
    email link or by phone; when it joins, its open referrals are already in its inbox.
    """

    __tablename__ = "network_organization"
    __table_args__ = (
        CheckConstraint("kind IN ('coordination', 'agency')", name="kind"),
        CheckConstraint("response_window_business_days BETWEEN 1 AND 30", name="response_window"),
        CheckConstraint("emergency_window_hours BETWEEN 1 AND 72", name="emergency_window"),
        CheckConstraint("urgent_window_business_days BETWEEN 1 AND 10", name="urgent_window"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    directory_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organization.id", ondelete="SET NULL"), unique=True
    )
    # How long the agency has to answer a referral, by its urgency: emergencies in clock hours
    # (around the clock), urgent and routine ones in the network's business days.
    emergency_window_hours: Mapped[int] = mapped_column(Integer, default=4)
    urgent_window_business_days: Mapped[int] = mapped_column(Integer, default=1)
    response_window_business_days: Mapped[int] = mapped_column(Integer, default=2)  # routine
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it joined the network (accounts, an inbox); NULL: only known through referrals sent
    # to its listing, by email link or phone.
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its agency admins were last reminded of listings nobody verified for a while
    # (accounts.listings.sweep_stale_reminders: at most one reminder a month).
    listings_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    users: Mapped[list["User"]] = relationship(back_populates="organization")

    @property
    def is_agency(self) -> bool:
        return self.kind == OrgKind.agency

    @property
    def has_joined(self) -> bool:
        return self.joined_at is not None

    def __repr__(self) -> str:
        return f"<NetworkOrganization {self.id} {self.kind} {self.name!r}>"


class User(db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('coordinator', 'agency_staff', 'agency_admin', 'admin')", name="role"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("network_organization.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    # Agency staff with this right edit their agency's directory listing (agency admins always
    # may); set by the agency's admins on the staff page.
    listing_editor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[NetworkOrganization | None] = relationship(back_populates="users")

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.coordinator

    @property
    def is_agency_user(self) -> bool:
        return self.role in (Role.agency_staff, Role.agency_admin)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class AuthToken(db.Model):
    """A bearer token for the API or a single-use password-reset link; only its hash is stored."""

    __tablename__ = "auth_token"
    __table_args__ = (CheckConstraint("purpose IN ('api', 'password_reset')", name="purpose"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<AuthToken {self.id} {self.purpose} user={self.user_id}>"


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


class UserSession(db.Model):
    """A signed-in browser: the cookie carries a random id, only its hash is stored here.

    Checked on every request, so sign-out, a password change, deactivation or "sign out
    everywhere" end it at once (a signed cookie alone can't be revoked).
    """

    __tablename__ = "user_session"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id}>"


class ClaimStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    refused = "refused"


class ListingClaim(db.Model):
    """Someone who works at a listed organization asks to manage its listing ("Work here?").

    A network admin approves (the organization joins, the person becomes its agency admin) or
    refuses (the person is told why). `organization_id` is the directory organization, which may
    have no network row yet.
    """

    __tablename__ = "listing_claim"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
        Index("ix_listing_claim_queue", "status", "created_at"),
        Index("ix_listing_claim_organization_email", "organization_id", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organization.id", ondelete="CASCADE")
    )
    # The service page the claim started from (the listing can be retired later).
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("service.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    message: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=ClaimStatus.pending.value)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(String(64))

    organization = relationship("Organization")
    service = relationship("Service")
    decided_by: Mapped[User | None] = relationship()

    @property
    def is_pending(self) -> bool:
        return self.status == ClaimStatus.pending

    def __repr__(self) -> str:
        return f"<ListingClaim {self.id} {self.status} {self.email!r} org={self.organization_id}>"


class SuggestionKind(enum.StrEnum):
    phone = "phone"
    hours = "hours"
    address = "address"
    closed = "closed"
    other = "other"


SUGGESTION_KIND_LABELS = {
    SuggestionKind.phone: "Phone number",
    SuggestionKind.hours: "Hours",
    SuggestionKind.address: "Address",
    SuggestionKind.closed: "Closed permanently",
    SuggestionKind.other: "Something else",
}


class SuggestionStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    dismissed = "dismissed"


class ListingSuggestion(db.Model):
    """A fix to a listing suggested by anyone on its public page ("Something wrong?").

    It waits in the queue of the agency that runs the listing (or of the network admins when no
    agency does) until someone accepts it (and makes the change through the edit form:
    `edit_url` records where they were sent) or dismisses it with a reason. The person is told
    either way if they left an email.
    """

    __tablename__ = "listing_suggestion"
    __table_args__ = (
        CheckConstraint("kind IN ('phone', 'hours', 'address', 'closed', 'other')", name="kind"),
        CheckConstraint("status IN ('pending', 'accepted', 'dismissed')", name="status"),
        Index("ix_listing_suggestion_queue", "organization_id", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("service.id", ondelete="CASCADE"), index=True
    )
    # The directory organization of the service: the queue is per organization.
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organization.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    correction: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=SuggestionStatus.pending.value)
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    edit_url: Mapped[str | None] = mapped_column(String(500))  # where "accept" sent them
    ip: Mapped[str | None] = mapped_column(String(64))

    service = relationship("Service")
    organization = relationship("Organization")
    decided_by: Mapped[User | None] = relationship()

    @property
    def is_pending(self) -> bool:
        return self.status == SuggestionStatus.pending

    @property
    def kind_label(self) -> str:
        return SUGGESTION_KIND_LABELS.get(SuggestionKind(self.kind), self.kind)

    def __repr__(self) -> str:
        return f"<ListingSuggestion {self.id} {self.kind} {self.status} service={self.service_id}>"
