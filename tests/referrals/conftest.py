"""A small referral network: two coordination organizations, two agencies with services, their
people, a caseload, and a JSON client that speaks for any of them."""

import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from tests.directory.factories import make_organization, make_service
from tests.referrals.pages import refer


@dataclass
class Network:
    coordination_a: object
    coordination_b: object
    agency_a: object
    agency_b: object
    service_a: object  # offered by agency A
    service_a2: object  # also agency A
    service_b: object  # offered by agency B
    service_outside: object  # a listed service whose organization is not in the network
    coordinator_a: object
    coordinator_a2: object
    coordinator_b: object
    staff_a: object
    staff_b: object
    agency_admin_a: object
    admin: object
    people: dict = field(default_factory=dict)  # role key -> user (for the authorization matrix)


def _listing(db, org_name: str, *service_names: str):
    organization = make_organization(db, name=org_name)
    services = [
        make_service(
            db, organization=organization, name=name, location=False, term=False, area=False
        )
        for name in service_names
    ]
    return organization, services


@pytest.fixture
def network(db, create_org, create_user) -> Network:
    """Coordination orgs A and B; agencies A (two services) and B (one); one person per role."""
    pantry, (food_boxes, snap_help) = _listing(
        db, "Northside Food Pantry", "Emergency food boxes", "SNAP application help"
    )
    shelter, (beds,) = _listing(db, "Harbor House Shelter", "Emergency shelter beds")
    _, (outside,) = _listing(db, "Unlisted Legal Clinic", "Free tenant lawyer")
    db.session.commit()

    agency_a = create_org("Northside Food Pantry", "agency", directory_organization_id=pantry.id)
    agency_b = create_org(
        "Harbor House Shelter",
        "agency",
        directory_organization_id=shelter.id,
        response_window_business_days=3,
    )
    coordination_a = create_org("Central Health Home", "coordination")
    coordination_b = create_org("Lakeside Care Management", "coordination")
    coordinator_a = create_user(
        "ana@central.example.org", "coordinator", coordination_a, full_name="Ana Ortiz"
    )
    coordinator_a2 = create_user(
        "ben@central.example.org", "coordinator", coordination_a, full_name="Ben Okafor"
    )
    coordinator_b = create_user(
        "carla@lakeside.example.org", "coordinator", coordination_b, full_name="Carla Diaz"
    )
    staff_a = create_user("dev@pantry.example.org", "agency_staff", agency_a, full_name="Dev Patel")
    agency_admin_a = create_user(
        "eve@pantry.example.org", "agency_admin", agency_a, full_name="Eve Moreau"
    )
    staff_b = create_user(
        "finn@shelter.example.org", "agency_staff", agency_b, full_name="Finn Walsh"
    )
    admin = create_user("gia@network.example.org", "admin", None, full_name="Gia Network")
    network = Network(
        coordination_a=coordination_a,
        coordination_b=coordination_b,
        agency_a=agency_a,
        agency_b=agency_b,
        service_a=food_boxes,
        service_a2=snap_help,
        service_b=beds,
        service_outside=outside,
        coordinator_a=coordinator_a,
        coordinator_a2=coordinator_a2,
        coordinator_b=coordinator_b,
        staff_a=staff_a,
        staff_b=staff_b,
        agency_admin_a=agency_admin_a,
        admin=admin,
    )
    network.people = {
        "coordinator_a": coordinator_a,
        "coordinator_b": coordinator_b,
        "staff_a": staff_a,
        "staff_b": staff_b,
        "agency_admin_a": agency_admin_a,
        "admin": admin,
        "anonymous": None,
    }
    return network


DEFAULT_SCOPE = ["first_name", "last_name", "phone", "preferred_language"]


@pytest.fixture
def create_member(db, network):
    """Factory: a member of coordination org A's caseload (or `coordinator`'s), committed.

    `consent=True` records a written consent sharing DEFAULT_SCOPE (or pass `scope=`);
    `consent=False` leaves none on record.
    """
    from referrals import services

    def factory(coordinator=None, *, consent: bool = True, scope=None, expires_on=None, **fields):
        coordinator = coordinator or network.coordinator_a
        values = {
            "first_name": "Maria",
            "last_name": "Lopez",
            "birth_date": date(1979, 4, 2),
            "phone": "(315) 555-0142",
            "email": "maria.lopez@example.net",
            "preferred_language": "Spanish",
            "address": "12 Elm St, Apt 3",
            "postal_code": "13202",
            "needs": "Food insecurity; HIV care follow-up",
            **fields,
        }
        member = services.create_member(coordinator, **values)
        if consent:
            services.record_consent(
                coordinator,
                member,
                given_by=f"{values['first_name']} {values['last_name']}",
                method="written",
                scope=list(scope if scope is not None else DEFAULT_SCOPE),
                expires_on=expires_on or date.today() + timedelta(days=365),
            )
        db.session.commit()
        return member

    return factory


class JsonApi:
    """The test client, speaking for one person per call (`as_=None` is anonymous)."""

    def __init__(self, client, api_token):
        self.client = client
        self._api_token = api_token
        self._tokens: dict = {}

    def headers(self, user) -> dict:
        if user is None:
            return {}
        if user.id not in self._tokens:
            self._tokens[user.id] = self._api_token(user)
        return {"Authorization": f"Bearer {self._tokens[user.id]}"}

    def get(self, path: str, as_=None, **kwargs):
        return self.client.get(path, headers=self.headers(as_), **kwargs)

    def post(self, path: str, as_=None, json=None, **kwargs):
        return self.client.post(path, headers=self.headers(as_), json=json, **kwargs)

    def act(self, referral_id, action: str, as_, body=None):
        """POST a referral action (`accept`, `decline`, `forward`...) and return the answer."""
        return self.post(f"/api/v1/referrals/{referral_id}/{action}", as_, body)

    def refer(self, as_, member, service, need: str = "Food"):
        """POST a new referral and return the answer, whatever it is (`send` asserts a 201)."""
        body = {"member_id": str(member.id), "service_id": str(service.id), "need": need}
        return self.post("/api/v1/referrals", as_, body)

    @staticmethod
    def assert_refused(response, status: int, code: str) -> None:
        """The answer is the JSON error `code` with HTTP `status`."""
        assert response.status_code == status, response.get_json()
        assert response.get_json()["error"]["code"] == code

    def patch(self, path: str, as_=None, json=None, **kwargs):
        return self.client.patch(path, headers=self.headers(as_), json=json, **kwargs)


@pytest.fixture
def api(client, api_token) -> JsonApi:
    return JsonApi(client, api_token)


@pytest.fixture
def send(api, network):
    """Factory: send a referral over the API as coordinator A (or `as_`); asserts it was created."""

    def sender(member, service=None, as_=None, **body):
        service = service or network.service_a
        payload = {
            "member_id": str(member.id),
            "service_id": str(service.id),
            "need": "Groceries for a family of four",
            "urgency": "urgent",
            **body,
        }
        response = api.post("/api/v1/referrals", as_ or network.coordinator_a, payload)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return sender


@pytest.fixture
def matrix_records(db, network, create_member):
    """`matrix_records(needs)`: fresh records for one request ("member", "sent", "accepted" or
    "declined" referral, or None), as the values for its path: service, other_service, member,
    consent, referral (and outside_service, agency, agency_admin)."""
    from referrals import services

    names = iter(range(1, 10_000))

    def make(needs: str | None) -> dict:
        values = {
            "service": network.service_a.id,
            "other_service": network.service_b.id,
            "outside_service": network.service_outside.id,  # its organization has not joined
            "agency": network.agency_a.id,
            "agency_admin": network.agency_admin_a.id,  # a colleague to assign a referral to
        }
        if needs is None:
            return values
        member = create_member(first_name=f"Member{next(names)}")
        values["member"] = member.id
        values["consent"] = member.consents[0].id
        if needs == "member":
            return values
        # "emailed": to the listed service whose agency has not joined (by email link).
        service = network.service_outside if needs == "emailed" else network.service_a
        referral = services.send_referral(network.coordinator_a, member, service, need="Food")
        if needs == "accepted":
            services.accept(referral, network.staff_a)
        if needs == "declined":
            services.decline(referral, network.staff_a, reason="no_capacity")
        db.session.commit()
        values["referral"] = referral.id
        return values

    return make


@pytest.fixture
def member(create_member):
    """A member of coordination org A's caseload, with consent."""
    return create_member()


@pytest.fixture
def referral(db, network, member):
    """`member`'s referral to agency A's food boxes, sent by coordinator A."""
    return refer(db, network, member)


@pytest.fixture
def on_two_hosts(app):
    """`on_two_hosts(work)`: run `work()` in two threads that start together, each in its own
    app context and session, as two app hosts would; each commits after its work, or rolls
    back and keeps the error. Returns (what each returned, the errors)."""
    from extensions import db as _db

    def run(work):
        start = threading.Barrier(2, timeout=5)
        results: list = []
        errors: list = []

        def host():
            with app.app_context():
                start.wait()
                try:
                    results.append(work())
                    _db.session.commit()
                except Exception as exc:  # the caller asserts on them
                    errors.append(exc)
                    _db.session.rollback()
                finally:
                    _db.session.remove()

        threads = [threading.Thread(target=host) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert all(not thread.is_alive() for thread in threads)
        return results, errors

    return run


@pytest.fixture
def hold_threads_before(db):
    """`hold_threads_before(is_locking)`: two worker threads each pause before their first
    statement for which `is_locking(sql)` is true, until the other has got there too, so both
    have read the same state before either writes: the real race, every run."""
    listeners = []

    def install(is_locking):
        barrier = threading.Barrier(2, timeout=5)
        seen = threading.local()

        def wait_for_the_other(conn, cursor, statement, parameters, context, executemany):
            worker = threading.current_thread() is not threading.main_thread()
            if worker and is_locking(statement) and not getattr(seen, "done", False):
                seen.done = True
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    pass  # the other thread never got this far (e.g. it was refused earlier)

        event.listen(db.engine, "before_cursor_execute", wait_for_the_other)
        listeners.append(wait_for_the_other)
        return barrier

    yield install
    for listener in listeners:
        event.remove(db.engine, "before_cursor_execute", listener)


def _locks_a_referral(statement: str) -> bool:
    # PostgreSQL: SELECT … FOR UPDATE of the referral; SQLite: the UPDATE itself.
    return statement.startswith("UPDATE referral ") or (
        "FROM referral" in statement and "FOR UPDATE" in statement
    )


@pytest.fixture
def hold_before_first_write(hold_threads_before):
    """Two worker threads both reach their first lock on a referral before either takes it."""
    return hold_threads_before(_locks_a_referral)
