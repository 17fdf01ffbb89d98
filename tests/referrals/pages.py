"""Helpers of the page tests (the referral screens, and the admin pages on the same network)."""

import re

from accounts.models import User
from directory.models import Service
from referrals import services
from referrals.models import Member, Referral


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
