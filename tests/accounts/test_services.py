"""Account services: organizations, users, password hashing and policy, sign-in, API tokens."""

import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from accounts import services
from accounts.models import AuthToken, NetworkOrganization, User
from accounts.services import AccountError, AccountInactive
from extensions import utcnow
from tests.fixtures_accounts import TEST_PASSWORD


@pytest.fixture
def directory_org(db):
    """A factory for directory (HSDS) organizations, which agencies link to."""
    from directory.models import Organization

    def factory(name: str) -> Organization:
        organization = Organization(name=name, description="")
        db.session.add(organization)
        db.session.commit()
        return organization

    return factory


# -- organizations ---------------------------------------------------------------------------


def test_an_agency_links_to_its_directory_listing_by_id(db, directory_org):
    listing = directory_org("Food Bank of the Valley")
    agency = services.create_organization(
        "Valley Food Bank (intake)", "agency", directory_organization_id=str(listing.id)
    )
    assert agency.directory_organization_id == listing.id
    assert agency.response_window_business_days == 2


def test_an_agency_links_by_its_exact_name_when_only_one_listing_has_it(db, directory_org):
    listing = directory_org("Hope Shelter")
    directory_org("Twin Services")
    directory_org("Twin Services")
    assert services.create_organization("Hope Shelter", "agency").directory_organization_id == (
        listing.id
    )
    assert services.create_organization("Twin Services", "agency").directory_organization_id is None
    assert (
        services.create_organization("Nowhere Listed", "agency").directory_organization_id is None
    )


def test_a_coordination_organization_links_only_by_explicit_id(db, directory_org):
    listing = directory_org("Mohawk Health Home")
    unlinked = services.create_organization("Mohawk Health Home", "coordination")
    assert unlinked.directory_organization_id is None
    db.session.rollback()
    linked = services.create_organization(
        "Mohawk Health Home", "coordination", directory_organization_id=listing.id
    )
    assert linked.directory_organization_id == listing.id


def test_organization_errors_are_clear(db, directory_org):
    listing = directory_org("Hope Shelter")
    services.create_organization("Hope Shelter", "agency")
    db.session.commit()
    cases = [
        (("", "agency"), {}, "Enter the organization's name."),
        (("X", "hospital"), {}, "Unknown kind 'hospital'"),
        (("X", "agency"), {"response_window_business_days": 0}, "from 1 to 30"),
        (("X", "agency"), {"directory_organization_id": uuid.uuid4()}, "No directory organization"),
        (("X", "agency"), {"directory_organization_id": "nonsense"}, "No directory organization"),
        (("Y", "agency"), {"directory_organization_id": listing.id}, "already linked"),
        (("hope shelter", "agency"), {}, "already in the network"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(AccountError, match=message):
            services.create_organization(*args, **kwargs)
    assert db.session.scalar(select(func.count()).select_from(NetworkOrganization)) == 1


# -- users -----------------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2_hashes(db, create_org):
    organization = create_org(kind="coordination")
    user = services.create_user(
        "Ana.Lopez@Example.org", "coordinator", organization.id, password=TEST_PASSWORD
    )
    db.session.commit()
    assert user.email == "ana.lopez@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, TEST_PASSWORD)


def test_user_errors_are_clear(db, create_org):
    coordination = create_org(kind="coordination")
    agency = create_org(kind="agency")
    services.create_user("taken@example.org", "coordinator", coordination.id)
    db.session.commit()
    cases = [
        ("not-an-email", "coordinator", coordination.id, None, "email", "like name@example.org"),
        ("a@b", "coordinator", coordination.id, None, "email", "like name@example.org"),
        ("TAKEN@example.org", "coordinator", coordination.id, None, "email", "already exists"),
        ("x@example.org", "boss", coordination.id, None, "role", "Unknown role 'boss'"),
        (
            "x@example.org",
            "coordinator",
            agency.id,
            None,
            "role",
            "needs a coordination organization; Test agency",
        ),
        (
            "x@example.org",
            "agency_staff",
            coordination.id,
            None,
            "role",
            "needs an agency; Test coordination",
        ),
        ("x@example.org", "agency_admin", None, None, "organization_id", "give its id"),
        ("x@example.org", "coordinator", uuid.uuid4(), None, "organization_id", "No network"),
        ("x@example.org", "coordinator", coordination.id, "short", "password", "at least 12"),
        ("x@example.org", "coordinator", coordination.id, "a" * 20, "password", "repeated"),
        ("x@example.org", "coordinator", coordination.id, "x@example.org", "password", "email"),
        ("x@example.org", "coordinator", coordination.id, "p" * 300, "password", "at most 256"),
    ]
    for email, role, org_id, password, field, message in cases:
        with pytest.raises(AccountError, match=message) as raised:
            services.create_user(email, role, org_id, password=password)
        assert raised.value.field == field, (email, role, message)
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_role_and_organization_kind_must_fit(db, create_org):
    coordination, agency = create_org(kind="coordination"), create_org(kind="agency")
    assert (
        services.create_user("c@example.org", "coordinator", coordination.id).role == "coordinator"
    )
    assert services.create_user("s@example.org", "agency_staff", agency.id).organization == agency
    assert (
        services.create_user("a@example.org", "agency_admin", str(agency.id)).role == "agency_admin"
    )
    admin = services.create_user("n@example.org", "admin", None)
    assert admin.organization_id is None


def test_passwords_without_mixed_character_classes_are_fine(db):
    user = services.create_user(
        "n@example.org", "admin", None, password="correcthorsebatterystaple"
    )
    assert user.password_hash


# -- signing in ------------------------------------------------------------------------------


def test_authenticate_checks_the_password(db, create_user):
    user = create_user(email="ana@example.org")
    assert services.authenticate(" ANA@example.org ", TEST_PASSWORD).id == user.id
    assert services.authenticate("ana@example.org", "wrong password!!") is None
    assert services.authenticate("nobody@example.org", TEST_PASSWORD) is None
    assert services.authenticate("", "") is None
    assert services.authenticate("ana@example.org", "x" * 10_000) is None


def test_authenticate_refuses_users_without_a_password(db, create_user):
    user = create_user(password=None)
    assert services.authenticate(user.email, "") is None
    assert services.authenticate(user.email, "any password at all") is None


def test_authenticate_tells_deactivated_users_only_after_a_right_password(db, create_user):
    user = create_user(active=False)
    assert services.authenticate(user.email, "wrong password!!") is None
    with pytest.raises(AccountInactive, match="deactivated"):
        services.authenticate(user.email, TEST_PASSWORD)


def test_old_hashes_are_upgraded_when_the_user_signs_in(db, create_user):
    user = create_user(password=None)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    user.password_hash = weak.hash(TEST_PASSWORD)
    db.session.commit()
    old_hash = user.password_hash
    assert services.authenticate(user.email, TEST_PASSWORD) is not None
    db.session.commit()
    assert user.password_hash != old_hash
    assert not PasswordHasher().check_needs_rehash(user.password_hash)
    assert services.authenticate(user.email, TEST_PASSWORD) is not None


# -- API tokens ------------------------------------------------------------------------------


def test_api_tokens_are_random_stored_hashed_and_expire(db, create_user):
    user = create_user()
    issued = services.create_api_token(user)
    db.session.commit()
    assert len(issued.token) >= 40
    stored = db.session.scalar(select(AuthToken).where(AuthToken.user_id == user.id))
    assert stored.purpose == "api"
    assert stored.token_hash == services.token_hash(issued.token) != issued.token
    assert issued.expires_at == stored.expires_at
    assert timedelta(hours=11) < stored.expires_at - utcnow() <= timedelta(hours=12)
    assert services.user_for_api_token(issued.token).id == user.id
    assert services.user_for_api_token(issued.token + "x") is None
    assert services.user_for_api_token("") is None
    assert services.user_for_api_token(None) is None
    assert services.issue_api_token(user) != issued.token

    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert services.user_for_api_token(issued.token) is None
    assert services.purge_expired_tokens() == 1


def test_revoked_tokens_and_deactivated_users_lose_access(db, create_user, create_org):
    organization = create_org(kind="agency")
    admin = create_user(role="agency_admin", org=organization)
    staff = create_user(role="agency_staff", org=organization)
    token = services.issue_api_token(staff)
    other = services.issue_api_token(staff)
    assert services.revoke_api_token(token) is True
    assert services.revoke_api_token(token) is False
    assert services.user_for_api_token(token) is None
    assert services.user_for_api_token(other) is not None
    services.set_user_active(admin, staff, False)
    db.session.commit()
    assert services.user_for_api_token(other) is None
    with pytest.raises(AccountInactive):
        services.issue_api_token(staff)


def test_a_reset_token_is_not_an_api_token(app, db, create_user, smtp_server):
    user = create_user()
    raw = services._new_token(user, "password_reset").token
    assert services.user_for_api_token(raw) is None
    api = services.issue_api_token(user)
    with pytest.raises(services.TokenInvalid, match="not valid"):
        services.check_reset_token(api)
