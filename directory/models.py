"""HSDS 3.0-shaped directory tables.

Field names follow HSDS wherever HSDS has the field. Our additions are few and named plainly:
`dataset` (which import or demo a record came from), `geom` (PostGIS/SpatiaLite geometry beside
HSDS latitude/longitude and extent), `tz_name` on schedules (an IANA zone; HSDS only has a UTC
offset, which can't follow daylight saving) and `referral_capacity` on services.
"""

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from directory import normalize
from extensions import UTCDateTime, db, utcnow
from geo import SRID

LocationType = ("physical", "postal", "virtual")


def _owned(**kwargs):
    """A parent's own child rows: saved with it, deleted with it (the database's ON DELETE
    CASCADE removes them, so SQLAlchemy does not load them first)."""
    return relationship(cascade="all, delete-orphan", passive_deletes=True, **kwargs)


class ServiceStatus(enum.StrEnum):
    """HSDS 3.0 service.status, stored as these exact strings.

    What each status allows is decided once, on `Service`: `is_listed`, `is_shown` and
    `takes_referrals`.
    """

    active = "active"
    inactive = "inactive"
    defunct = "defunct"
    temporarily_closed = "temporarily closed"


# Found in search and the public listings; an inactive service is not offered now, a defunct one
# is gone. A temporarily closed service is still found: people need to see that it is closed.
LISTED_STATUSES = (ServiceStatus.active, ServiceStatus.temporarily_closed)


class ReferralCapacity(enum.StrEnum):
    """Whether an agency takes new referrals for a service; shown in search."""

    accepting = "accepting"
    waitlist = "waitlist"
    not_accepting = "not_accepting"


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _fk(target: str, *, nullable: bool = True, ondelete: str = "CASCADE") -> Mapped:
    return mapped_column(Uuid, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


class Organization(db.Model):
    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(500))
    alternate_name: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(320))
    website: Mapped[str | None] = mapped_column(String(2000))
    year_incorporated: Mapped[int | None] = mapped_column(Integer)
    legal_status: Mapped[str | None] = mapped_column(String(200))
    logo: Mapped[str | None] = mapped_column(String(2000))
    uri: Mapped[str | None] = mapped_column(String(2000))
    parent_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organization.id", ondelete="SET NULL")
    )
    dataset: Mapped[str | None] = mapped_column(String(200), index=True)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    services: Mapped[list["Service"]] = _owned(back_populates="organization")
    locations: Mapped[list["Location"]] = _owned(back_populates="organization")
    programs: Mapped[list["Program"]] = _owned()
    phones: Mapped[list["Phone"]] = _owned(
        primaryjoin="and_(Phone.organization_id == Organization.id)"
    )
    contacts: Mapped[list["Contact"]] = _owned(
        primaryjoin="Contact.organization_id == Organization.id"
    )
    fundings: Mapped[list["Funding"]] = _owned(
        primaryjoin="Funding.organization_id == Organization.id"
    )
    organization_identifiers: Mapped[list["OrganizationIdentifier"]] = _owned()

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


class OrganizationIdentifier(db.Model):
    __tablename__ = "organization_identifier"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = _fk("organization.id", nullable=False)
    identifier_scheme: Mapped[str | None] = mapped_column(String(200))
    identifier_type: Mapped[str] = mapped_column(String(200), default="")
    identifier: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"<OrganizationIdentifier {self.id} {self.identifier!r}>"


class Program(db.Model):
    __tablename__ = "program"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = _fk("organization.id", nullable=False)
    name: Mapped[str] = mapped_column(String(500))
    alternate_name: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"<Program {self.id} {self.name!r}>"


class Service(db.Model):
    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'inactive', 'defunct', 'temporarily closed')", name="status"
        ),
        CheckConstraint(
            "referral_capacity IN ('accepting', 'waitlist', 'not_accepting')",
            name="referral_capacity",
        ),
        CheckConstraint(
            "minimum_age IS NULL OR maximum_age IS NULL OR minimum_age <= maximum_age",
            name="age_range",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = _fk("organization.id", nullable=False)
    program_id: Mapped[uuid.UUID | None] = _fk("program.id", ondelete="SET NULL")
    name: Mapped[str] = mapped_column(String(500))
    alternate_name: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=ServiceStatus.active.value)
    interpretation_services: Mapped[str | None] = mapped_column(Text)
    application_process: Mapped[str | None] = mapped_column(Text)
    fees_description: Mapped[str | None] = mapped_column(Text)
    wait_time: Mapped[str | None] = mapped_column(Text)
    accreditations: Mapped[str | None] = mapped_column(Text)
    licenses: Mapped[str | None] = mapped_column(Text)
    eligibility_description: Mapped[str | None] = mapped_column(Text)
    minimum_age: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    maximum_age: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    alert: Mapped[str | None] = mapped_column(Text)
    assured_date: Mapped[date | None] = mapped_column(Date)
    assurer_email: Mapped[str | None] = mapped_column(String(320))
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    referral_capacity: Mapped[str] = mapped_column(
        String(20), default=ReferralCapacity.accepting.value
    )
    dataset: Mapped[str | None] = mapped_column(String(200), index=True)

    organization: Mapped[Organization] = relationship(back_populates="services")
    program: Mapped[Program | None] = relationship()
    service_at_locations: Mapped[list["ServiceAtLocation"]] = _owned(back_populates="service")
    phones: Mapped[list["Phone"]] = _owned(primaryjoin="Phone.service_id == Service.id")
    schedules: Mapped[list["Schedule"]] = _owned(primaryjoin="Schedule.service_id == Service.id")
    service_areas: Mapped[list["ServiceArea"]] = _owned(back_populates="service")
    languages: Mapped[list["Language"]] = _owned(primaryjoin="Language.service_id == Service.id")
    cost_options: Mapped[list["CostOption"]] = _owned()
    required_documents: Mapped[list["RequiredDocument"]] = _owned()
    contacts: Mapped[list["Contact"]] = _owned(primaryjoin="Contact.service_id == Service.id")
    fundings: Mapped[list["Funding"]] = _owned(primaryjoin="Funding.service_id == Service.id")
    attributes: Mapped[list["Attribute"]] = relationship(
        primaryjoin=lambda: and_(
            foreign(Attribute.link_id) == Service.id, Attribute.link_entity == "service"
        ),
        cascade="all, delete-orphan",
        overlaps="attributes",
    )

    @property
    def is_free(self) -> bool:
        """Free of cost when every cost option is zero, or the fee text says so."""
        if self.cost_options:
            # An option with no amount says nothing about price: only explicit zeros are free.
            return all(c.amount is not None and c.amount == 0 for c in self.cost_options)
        text = (self.fees_description or "").strip().lower()
        return text in {
            "free",
            "none",
            "no fee",
            "no fees",
            "no cost",
            "$0",
            "0",
        } or text.startswith(("free", "no fee", "no cost"))

    @hybrid_property
    def is_listed(self) -> bool:
        """Found in search and the public listings (active or temporarily closed)."""
        return self.status in LISTED_STATUSES

    @is_listed.inplace.expression
    @classmethod
    def _is_listed_expression(cls) -> ColumnElement[bool]:
        return cls.status.in_(LISTED_STATUSES)

    @hybrid_property
    def is_shown(self) -> bool:
        """Its page, saved-list entry and referral form still open: only a defunct one is gone.

        An inactive service is shown with a "not offered now" notice, as links and referrals to
        it outlive the listing.
        """
        return self.status != ServiceStatus.defunct

    @hybrid_property
    def takes_referrals(self) -> bool:
        """The status lets a referral be sent (or forwarded) to it: only an active service.

        Referral capacity (waitlist, not accepting) is a separate, agency-set switch.
        """
        return self.status == ServiceStatus.active

    def __repr__(self) -> str:
        return f"<Service {self.id} {self.name!r}>"


class Location(db.Model):
    __tablename__ = "location"
    __table_args__ = (
        CheckConstraint("location_type IN ('physical', 'postal', 'virtual')", name="location_type"),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        CheckConstraint(
            "longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    location_type: Mapped[str] = mapped_column(String(20), default="physical")
    url: Mapped[str | None] = mapped_column(String(2000))
    organization_id: Mapped[uuid.UUID | None] = _fk("organization.id")
    name: Mapped[str | None] = mapped_column(String(500))
    alternate_name: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    transportation: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    external_identifier: Mapped[str | None] = mapped_column(String(200))
    external_identifier_type: Mapped[str | None] = mapped_column(String(200))
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=True)
    dataset: Mapped[str | None] = mapped_column(String(200), index=True)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization | None] = relationship(back_populates="locations")
    addresses: Mapped[list["Address"]] = _owned()
    phones: Mapped[list["Phone"]] = _owned(primaryjoin="Phone.location_id == Location.id")
    schedules: Mapped[list["Schedule"]] = _owned(primaryjoin="Schedule.location_id == Location.id")
    languages: Mapped[list["Language"]] = _owned(primaryjoin="Language.location_id == Location.id")
    accessibility: Mapped[list["Accessibility"]] = _owned()
    service_at_locations: Mapped[list["ServiceAtLocation"]] = _owned(back_populates="location")

    @property
    def physical_address(self) -> "Address | None":
        for address in self.addresses:
            if address.address_type == "physical":
                return address
        return self.addresses[0] if self.addresses else None

    def __repr__(self) -> str:
        return f"<Location {self.id} {self.name!r}>"


class ServiceAtLocation(db.Model):
    __tablename__ = "service_at_location"

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID] = _fk("service.id", nullable=False)
    location_id: Mapped[uuid.UUID] = _fk("location.id", nullable=False)
    description: Mapped[str | None] = mapped_column(Text)

    service: Mapped[Service] = relationship(back_populates="service_at_locations")
    location: Mapped[Location] = relationship(back_populates="service_at_locations")
    phones: Mapped[list["Phone"]] = _owned(
        primaryjoin="Phone.service_at_location_id == ServiceAtLocation.id"
    )
    schedules: Mapped[list["Schedule"]] = _owned(
        primaryjoin="Schedule.service_at_location_id == ServiceAtLocation.id"
    )
    contacts: Mapped[list["Contact"]] = _owned(
        primaryjoin="Contact.service_at_location_id == ServiceAtLocation.id"
    )

    def __repr__(self) -> str:
        return f"<ServiceAtLocation {self.id} {self.service_id}@{self.location_id}>"


class Address(db.Model):
    __tablename__ = "address"
    __table_args__ = (
        CheckConstraint("address_type IN ('physical', 'postal', 'virtual')", name="address_type"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    location_id: Mapped[uuid.UUID | None] = _fk("location.id")
    attention: Mapped[str | None] = mapped_column(String(500))
    address_1: Mapped[str] = mapped_column(String(500), default="")
    address_2: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str | None] = mapped_column(String(200))
    state_province: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", index=True)
    country: Mapped[str] = mapped_column(String(2), default="US")
    address_type: Mapped[str] = mapped_column(String(20), default="physical")

    def one_line(self) -> str:
        parts = [self.address_1, self.address_2, self.city]
        tail = " ".join(p for p in (self.state_province, self.postal_code) if p)
        return ", ".join(p for p in [*parts, tail] if p)

    def __repr__(self) -> str:
        return f"<Address {self.id} {self.one_line()!r}>"


class Phone(db.Model):
    __tablename__ = "phone"

    id: Mapped[uuid.UUID] = _uuid_pk()
    location_id: Mapped[uuid.UUID | None] = _fk("location.id")
    service_id: Mapped[uuid.UUID | None] = _fk("service.id")
    organization_id: Mapped[uuid.UUID | None] = _fk("organization.id")
    contact_id: Mapped[uuid.UUID | None] = _fk("contact.id")
    service_at_location_id: Mapped[uuid.UUID | None] = _fk("service_at_location.id")
    number: Mapped[str] = mapped_column(String(100))
    extension: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)

    languages: Mapped[list["Language"]] = _owned(primaryjoin="Language.phone_id == Phone.id")

    @property
    def tel_uri(self) -> str | None:
        """The tel: link that dials this number (E.164 with ";ext="), or None when the number
        is text no phone can dial ("Call the front desk")."""
        return normalize.tel_uri(self.number, self.extension)

    def __repr__(self) -> str:
        return f"<Phone {self.id} {self.number!r}>"


class Contact(db.Model):
    __tablename__ = "contact"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID | None] = _fk("organization.id")
    service_id: Mapped[uuid.UUID | None] = _fk("service.id")
    service_at_location_id: Mapped[uuid.UUID | None] = _fk("service_at_location.id")
    location_id: Mapped[uuid.UUID | None] = _fk("location.id")
    name: Mapped[str | None] = mapped_column(String(500))
    title: Mapped[str | None] = mapped_column(String(500))
    department: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320))

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.name!r}>"


class Schedule(db.Model):
    """Opening hours as an RFC 5545 recurrence (HSDS): weekly `byday` with opens/closes times.

    `tz_name` (IANA, e.g. America/New_York) is ours: HSDS `timezone` is a fixed UTC offset.
    """

    __tablename__ = "schedule"
    __table_args__ = (
        CheckConstraint("freq IS NULL OR freq IN ('WEEKLY', 'MONTHLY')", name="freq"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID | None] = _fk("service.id")
    location_id: Mapped[uuid.UUID | None] = _fk("location.id")
    service_at_location_id: Mapped[uuid.UUID | None] = _fk("service_at_location.id")
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    dtstart: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    tz_name: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int | None] = mapped_column(Integer)
    wkst: Mapped[str | None] = mapped_column(String(2))
    freq: Mapped[str | None] = mapped_column(String(10))
    interval: Mapped[int | None] = mapped_column(Integer)
    byday: Mapped[str | None] = mapped_column(String(100))
    byweekno: Mapped[str | None] = mapped_column(String(100))
    bymonthday: Mapped[str | None] = mapped_column(String(100))
    byyearday: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    opens_at: Mapped[str | None] = mapped_column(String(20))
    closes_at: Mapped[str | None] = mapped_column(String(20))
    schedule_link: Mapped[str | None] = mapped_column(String(2000))
    attending_type: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Schedule {self.id} {self.byday} {self.opens_at}-{self.closes_at}>"


class ServiceArea(db.Model):
    __tablename__ = "service_area"

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID | None] = _fk("service.id")
    name: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    extent: Mapped[str | None] = mapped_column(Text)
    extent_type: Mapped[str | None] = mapped_column(String(20))
    uri: Mapped[str | None] = mapped_column(String(2000))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=True)

    service: Mapped[Service | None] = relationship(back_populates="service_areas")

    def __repr__(self) -> str:
        return f"<ServiceArea {self.id} {self.name!r}>"


class Language(db.Model):
    __tablename__ = "language"

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID | None] = _fk("service.id")
    location_id: Mapped[uuid.UUID | None] = _fk("location.id")
    phone_id: Mapped[uuid.UUID | None] = _fk("phone.id")
    name: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Language {self.id} {self.name or self.code!r}>"


class Accessibility(db.Model):
    __tablename__ = "accessibility"

    id: Mapped[uuid.UUID] = _uuid_pk()
    location_id: Mapped[uuid.UUID | None] = _fk("location.id")
    description: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))

    def __repr__(self) -> str:
        return f"<Accessibility {self.id} {self.description!r}>"


class CostOption(db.Model):
    __tablename__ = "cost_option"

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID] = _fk("service.id", nullable=False)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    option: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    amount_description: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<CostOption {self.id} {self.amount} {self.currency}>"


class RequiredDocument(db.Model):
    __tablename__ = "required_document"

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID] = _fk("service.id", nullable=False)
    document: Mapped[str | None] = mapped_column(Text)
    uri: Mapped[str | None] = mapped_column(String(2000))

    def __repr__(self) -> str:
        return f"<RequiredDocument {self.id} {self.document!r}>"


class Funding(db.Model):
    __tablename__ = "funding"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID | None] = _fk("organization.id")
    service_id: Mapped[uuid.UUID | None] = _fk("service.id")
    source: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Funding {self.id} {self.source!r}>"


class Taxonomy(db.Model):
    __tablename__ = "taxonomy"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    uri: Mapped[str | None] = mapped_column(String(2000))
    version: Mapped[str | None] = mapped_column(String(50))

    terms: Mapped[list["TaxonomyTerm"]] = _owned(back_populates="taxonomy")

    def __repr__(self) -> str:
        return f"<Taxonomy {self.id} {self.name!r}>"


class TaxonomyTerm(db.Model):
    __tablename__ = "taxonomy_term"
    __table_args__ = (Index("ix_taxonomy_term_taxonomy_code", "taxonomy_id", "code"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    code: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("taxonomy_term.id", ondelete="SET NULL"), index=True
    )
    taxonomy_id: Mapped[uuid.UUID | None] = _fk("taxonomy.id")
    language: Mapped[str | None] = mapped_column(String(10))
    term_uri: Mapped[str | None] = mapped_column(String(2000))

    taxonomy: Mapped[Taxonomy | None] = relationship(back_populates="terms")
    parent: Mapped["TaxonomyTerm | None"] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<TaxonomyTerm {self.id} {self.code} {self.name!r}>"


class Attribute(db.Model):
    """Attaches a taxonomy term (a category, an eligibility group...) to any HSDS object."""

    __tablename__ = "attribute"
    __table_args__ = (Index("ix_attribute_link", "link_entity", "link_id"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    link_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    taxonomy_term_id: Mapped[uuid.UUID] = _fk("taxonomy_term.id", nullable=False)
    link_type: Mapped[str | None] = mapped_column(String(200))
    link_entity: Mapped[str] = mapped_column(String(50))
    value: Mapped[str | None] = mapped_column(Text)

    taxonomy_term: Mapped[TaxonomyTerm] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Attribute {self.id} {self.link_entity}:{self.link_id} {self.taxonomy_term_id}>"


class ChangeRecord(db.Model):
    """HSDS `metadata`: a change history row (who changed which field of which record)."""

    __tablename__ = "metadata"

    id: Mapped[uuid.UUID] = _uuid_pk()
    resource_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    resource_type: Mapped[str] = mapped_column(String(50))
    last_action_date: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_action_type: Mapped[str] = mapped_column(String(50))
    field_name: Mapped[str] = mapped_column(String(100), default="")
    previous_value: Mapped[str] = mapped_column(Text, default="")
    replacement_value: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"<ChangeRecord {self.id} {self.resource_type}:{self.resource_id}>"


class ListingChange(db.Model):
    """One field of a listing changed by a person: who, when, before and after.

    Not HSDS `metadata` (`ChangeRecord`, which imports carry and exports publish): this is our own
    edit history, never served through /hsds/. `organization_id` is the listing (an organization
    and everything under it); `record_type`/`record_id` the row that changed; values are the
    canonical text of `directory.editing` fields, so any of them can be written back (restore).
    """

    __tablename__ = "listing_change"
    __table_args__ = (
        CheckConstraint("action IN ('edit', 'restore')", name="action"),
        Index("ix_listing_change_listing", "organization_id", "changed_at"),
        Index("ix_listing_change_record", "record_type", "record_id", "field"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organization.id", ondelete="CASCADE")
    )
    record_type: Mapped[str] = mapped_column(String(50))  # "organization", "service", "location"
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    record_label: Mapped[str] = mapped_column(String(500), default="")  # its name at the time
    field: Mapped[str] = mapped_column(String(100))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(20), default="edit")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who: a user id (the directory knows no users, so no foreign key) and their email then.
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    changed_by: Mapped[str] = mapped_column(String(320), default="")
    # The public suggestion this change carried out (issue 12 item 4), and the change a restore
    # went back to.
    suggestion_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    restored_from_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("listing_change.id", ondelete="SET NULL")
    )

    def __repr__(self) -> str:
        return f"<ListingChange {self.id} {self.record_type}.{self.field} by {self.changed_by}>"


class ImportRun(db.Model):
    """One run of an HSDS import: who started it, from what, and what it did.

    Kept so network admins can see the history of what was loaded and read each run's report.
    """

    __tablename__ = "import_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed', 'dry_run')", name="status"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(2000))  # the path or uploaded file name
    dataset: Mapped[str | None] = mapped_column(String(200), index=True)
    started_by: Mapped[str] = mapped_column(String(320))  # a user's email, or "cli"
    status: Mapped[str] = mapped_column(String(20), default="running")
    counts: Mapped[dict] = mapped_column(JSON, default=dict)  # {table: {created: n, ...}}
    report_path: Mapped[str | None] = mapped_column(String(2000))  # the full CSV report
    message: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"<ImportRun {self.id} {self.status} {self.source!r}>"


class ReviewFlag(db.Model):
    """A record an import kept but a person should check (a placeholder organization, a point
    far from its ZIP code). Network admins see open flags; resolving one keeps the row."""

    __tablename__ = "review_flag"
    __table_args__ = (
        Index("ix_review_flag_record", "record_table", "record_id"),
        Index("ix_review_flag_open", "resolved_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    record_table: Mapped[str] = mapped_column(String(50))  # "organization", "location", ...
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(
        String(50)
    )  # a code: placeholder_organization, far_from_zip
    detail: Mapped[str] = mapped_column(Text, default="")  # words for the reviewer
    import_run_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("import_run.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(320))

    def __repr__(self) -> str:
        return f"<ReviewFlag {self.id} {self.reason} {self.record_table}:{self.record_id}>"
