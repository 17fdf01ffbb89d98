"""A directory listing managed by an agency, and one person of each kind who might edit it."""

from dataclasses import dataclass

import pytest

from tests.directory.factories import make_organization, make_service


@dataclass
class Listing:
    organization: object
    service: object
    location: object
    other_service: object  # another agency's
    people: dict


@pytest.fixture
def listing(db, create_org, create_user) -> Listing:
    """Agency A lists "Northside Pantry"; agency B another; one person of each kind."""
    organization = make_organization(db, name="Northside Pantry")
    service = make_service(db, organization=organization, name="Emergency food boxes")
    other = make_service(db, name="Harbor House beds")
    db.session.commit()
    location = service.service_at_locations[0].location
    agency_a = create_org("Northside Pantry", "agency", directory_organization_id=organization.id)
    agency_b = create_org("Harbor House", "agency", directory_organization_id=other.organization_id)
    editor = create_user("ed@pantry.example.org", "agency_staff", agency_a)
    people = {
        "agency_admin": create_user("eve@pantry.example.org", "agency_admin", agency_a),
        "staff_editor": editor,
        "staff": create_user("dev@pantry.example.org", "agency_staff", agency_a),
        "other_agency_admin": create_user("finn@harbor.example.org", "agency_admin", agency_b),
        "coordinator": create_user("ana@central.example.org", "coordinator"),
        "admin": create_user("gia@network.example.org", "admin"),
        "anonymous": None,
    }
    from accounts.models import User

    db.session.get(User, editor.id).listing_editor = True
    db.session.commit()
    return Listing(organization, service, location, other, people)
