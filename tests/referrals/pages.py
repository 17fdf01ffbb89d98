"""Helpers of the page tests (the referral screens, and the admin pages on the same network)."""

import re

from accounts.models import User
from directory.models import Service, ServiceAtLocation
from referrals import member_status, services
from referrals.models import Member, Referral
from tests.directory.factories import make_location


def text_of(response) -> str:
    """The response's body as text."""
    return response.get_data(as_text=True)


def htmx_headers(target: str) -> dict:
    """The headers of an htmx request for the region `target`."""
    return {"HX-Request": "true", "HX-Target": target}


def field_error(html: str, name: str) -> str:
    """The error shown next to the field `name` (fails when there is none)."""
    match = re.search(
        rf'<p class="field-error" id="{re.escape(name)}-error"[^>]*>([^<]+)</p>', html
    )
    assert match, f"no error shown next to {name!r}"
    return match[1]


def refer(db, network, member, service=None, **values) -> Referral:
    """Send a referral through the service layer (committed), as coordinator A."""
    referral = services.send_referral(
        db.session.get(User, network.coordinator_a.id),
        db.session.get(Member, member.id),
        db.session.get(Service, (service or network.service_a).id),
        need=values.pop("need", "Groceries for a family of four"),
        urgency=values.pop("urgency", "urgent"),
        **values,
    )
    db.session.commit()
    return referral


def accept(db, network, referral):
    """Accept `referral` as agency A's staff, through the service layer (committed)."""
    services.accept(db.session.get(Referral, referral.id), db.session.get(User, network.staff_a.id))
    db.session.commit()


def refer_with_status_link(db, network, create_member, **member_fields) -> Referral:
    """Agency A's first service at a site in ZIP 13203, and a referral to it (committed) for a
    member who agreed to hear how it goes by email."""
    service = db.session.get(Service, network.service_a.id)
    site = make_location(db, organization=service.organization, postal_code="13203")
    service.service_at_locations.append(ServiceAtLocation(location=site))
    member = create_member(**member_fields)
    coordinator = db.session.get(User, network.coordinator_a.id)
    member_status.set_contact(coordinator, db.session.get(Member, member.id), "email")
    db.session.commit()
    return refer(db, network, member)
