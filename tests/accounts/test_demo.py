"""Demo accounts: deterministic, idempotent, able to sign in with the documented password."""

from sqlalchemy import func, select

from accounts.demo import DEMO_PASSWORD, seed_demo_accounts
from accounts.models import NetworkOrganization, User


def _listings(db, *names):
    from directory.models import Organization

    listings = [Organization(name=name, description="") for name in names]
    db.session.add_all(listings)
    db.session.commit()
    return listings


def test_demo_accounts_are_created_once(db):
    food, shelter = _listings(db, "Valley Food Pantry", "Safe Harbor Shelter")
    first = seed_demo_accounts({"food-pantry": food.id, "shelter": shelter.id})
    db.session.commit()
    emails = [account.email for account in first]
    assert emails == [
        "admin@wraparound.example.org",
        "coordinator1@cnyhh.example.org",
        "coordinator2@cnyhh.example.org",
        "staff@food-pantry.example.org",
        "admin@food-pantry.example.org",
        "staff@shelter.example.org",
        "admin@shelter.example.org",
    ]
    assert all(account.created for account in first)
    agency = db.session.scalar(
        select(NetworkOrganization).where(NetworkOrganization.directory_organization_id == food.id)
    )
    assert agency.name == "Valley Food Pantry" and agency.kind == "agency"

    again = seed_demo_accounts({"food-pantry": food.id, "shelter": shelter.id})
    db.session.commit()
    assert [a.email for a in again] == emails
    assert not any(account.created for account in again)
    assert db.session.scalar(select(func.count()).select_from(User)) == 7
    assert db.session.scalar(select(func.count()).select_from(NetworkOrganization)) == 3


def test_demo_accounts_sign_in_with_the_documented_password(app, db, client):
    (listing,) = _listings(db, "Bridge Street Clinic")
    seed_demo_accounts([listing.id])
    db.session.commit()
    for email in ["coordinator1@cnyhh.example.org", "staff@bridge-street-clinic.example.org"]:
        response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 303, email
        client.post("/logout")


def test_missing_directory_listings_are_skipped(db):
    import uuid

    accounts = seed_demo_accounts({"ghost": uuid.uuid4()})
    assert len(accounts) == 3
