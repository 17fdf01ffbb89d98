"""No route is forgotten: every endpoint of `app.url_map` is in an authorization matrix, or on a
short list of routes that are public by design, or on a list naming the test of its denials.

A new route fails `test_every_route_is_in_a_matrix_or_listed` until it gets its row: add one line
to a matrix (API: test_authorization.ENDPOINTS; page or form: test_pages.PAGES; a page an emailed
link opens: LINK_PAGES below), or to PUBLIC / CHECKED_ELSEWHERE here with the reason.

LINK_PAGES is the matrix of the pages an emailed link opens (`/r/<token>`): there the token is
the credential, so who is signed in must change nothing, while a token nobody was given is a 404
and a withdrawn one a 410, for everyone.
"""

import re
import secrets
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import User
from accounts.outbox import OutboxEmail
from referrals import links, services
from referrals.actors import LinkActor
from referrals.models import Referral
from tests.admin.test_claims import DECISIONS
from tests.referrals.matrix import ROLES, fill_in
from tests.referrals.pages import text_of
from tests.referrals.test_authorization import ENDPOINTS
from tests.referrals.test_pages import PAGES

TESTS = Path(__file__).resolve().parents[1]

# page -> (referral state, method, path, form, status with a live link / a withdrawn one)
LINK_PAGES = {
    "link page": ("sent", "GET", "/r/{token}", None, (200, 410)),
    "accept by link": ("sent", "POST", "/r/{token}/accept", {}, (200, 410)),
    "decline by link": (
        "sent",
        "POST",
        "/r/{token}/decline",
        {"reason": "no_capacity"},
        (200, 410),
    ),
    "forward by link": (
        "sent",
        "POST",
        "/r/{token}/forward",
        {"service_id": "{other_service}"},
        (200, 410),
    ),
    "outcome by link": (
        "accepted",
        "POST",
        "/r/{token}/complete",
        {"outcome": "service_provided"},
        (200, 410),
    ),
    "stop by link": (
        "accepted",
        "POST",
        "/r/{token}/cancel",
        {"reason": "member_moved"},
        (200, 410),
    ),
    "forward picker by link": (
        "sent",
        "GET",
        "/r/{token}/forward-services?forward_q=food",
        None,
        (303, 410),  # without htmx: back to the link's page, which lists the matches
    ),
    "write by link": ("sent", "POST", "/r/{token}/messages", {"body": "We'll call."}, (200, 410)),
    # Its point: a dead link's holder asks the coordinator for a new one.
    "ask for a new link": ("sent", "POST", "/r/{token}/new-link", {}, (200, 200)),
}

# Open to anyone on purpose: the public directory and its APIs, signing in, password reset,
# claiming a listing (an admin decides), static files. (endpoint, method) -> why.
PUBLIC = {
    ("health.alive", "GET"): "a load balancer's check: says only that the process is up",
    ("health.ready", "GET"): "a load balancer's check: database reachable, search caught up",
    ("directory.search", "GET"): "the public directory",
    ("directory.service", "GET"): "the public directory",
    ("directory.my_list", "GET"): "a visitor's own list, kept in their session",
    ("directory.list_add", "POST"): "a visitor's own list, kept in their session",
    ("directory.list_remove", "POST"): "a visitor's own list, kept in their session",
    ("directory_api.list_services", "GET"): "the public directory API",
    ("directory_api.get_service", "GET"): "the public directory API",
    ("api_docs.openapi", "GET"): "the API's description",
    ("accounts.login", "GET"): "signing in",
    ("accounts.login", "POST"): "signing in",
    ("accounts.logout", "POST"): "signing out",
    ("accounts.forgot_password", "GET"): "password reset (a single-purpose link)",
    ("accounts.forgot_password", "POST"): "password reset (a single-purpose link)",
    ("accounts.reset_password", "GET"): "password reset (a single-purpose link)",
    ("accounts.reset_password", "POST"): "password reset (a single-purpose link)",
    ("accounts_api.issue_token", "POST"): "signing in, over the API",
    ("static", "GET"): "CSS, JavaScript, images",
}
PUBLIC_BLUEPRINTS = {"hsds_api": "the public HSDS 3.0 directory API (read-only)"}

# Signed-in routes whose denials another test checks: method, endpoint, the test file (under
# tests/) and a path it requests. Prefer a matrix row; this is for routes with their own roles.
_CHECKED_ELSEWHERE = """
GET    accounts.account                      accounts/test_nav.py "/account"
POST   accounts.account_password             accounts/test_login.py /account/password
POST   accounts.sign_out_everywhere_own      accounts/test_sessions.py /account/sessions/revoke
GET    accounts.staff                        accounts/test_staff.py /account/staff
POST   accounts.staff                        accounts/test_staff.py /account/staff
POST   accounts.activate_staff               accounts/test_staff.py /activate
POST   accounts.deactivate_staff             accounts/test_staff.py /deactivate
POST   accounts.reinvite_staff               accounts/test_staff.py /invite
POST   accounts.sign_out_staff_everywhere    accounts/test_sessions.py /sessions/revoke
GET    accounts.imports                      accounts/test_imports_page.py /admin/imports
GET    netadmin.upload_import                admin/test_network_admin.py /admin/imports/upload
POST   netadmin.upload_import                admin/test_network_admin.py /admin/imports/upload
GET    netadmin.job                          admin/test_network_admin.py /admin/jobs/
GET    netadmin.organizations                admin/test_network_admin.py /admin/organizations
GET    netadmin.new_organization             admin/test_network_admin.py /admin/organizations/new
POST   netadmin.new_organization             admin/test_network_admin.py /admin/organizations/new
GET    netadmin.edit_organization            admin/test_network_admin.py /edit
POST   netadmin.edit_organization            admin/test_network_admin.py /edit
GET    netadmin.users                        admin/test_network_admin.py /admin/users
GET    accounts.import_report                accounts/test_imports_page.py report.csv
POST   accounts.resolve_review_flag          accounts/test_imports_page.py /resolve
GET    accounts_api.whoami                   accounts/test_api.py /api/v1/auth/me
DELETE accounts_api.revoke_token             accounts/test_api.py /api/v1/auth/token
GET    referrals.notifications_badge         referrals/test_pages.py /notifications/badge
GET    member_status.show                    referrals/test_member_status.py /s/
GET    listings.edit_organization            accounts/test_listing_edit.py /edit
POST   listings.edit_organization            accounts/test_listing_edit.py /edit
POST   listings.edit_service                 accounts/test_listing_edit.py /edit
GET    listings.category_choices             accounts/test_listing_edit.py /listings/categories
GET    listings.edit_areas                   accounts/test_listing_edit.py /areas
POST   listings.edit_areas                   accounts/test_listing_edit.py /areas
GET    listings.edit_location                accounts/test_listing_edit.py /locations/
POST   listings.edit_location                accounts/test_listing_edit.py /locations/
GET    listings.add_location                 accounts/test_listing_edit.py /locations/new
POST   listings.add_location                 accounts/test_listing_edit.py /locations/new
GET    listings.history                      accounts/test_listing_edit.py /history
POST   listings.restore                      accounts/test_listing_edit.py /restore
POST   accounts.set_staff_editor             accounts/test_listing_edit.py /editor
GET    listing_upkeep.dashboard              admin/test_listing_suggestions.py /listings
GET    listing_upkeep.suggestion_queue       admin/test_listing_suggestions.py /listings/suggestions
POST   listing_upkeep.accept_suggestion      admin/test_listing_suggestions.py /accept
POST   listing_upkeep.dismiss_suggestion     admin/test_listing_suggestions.py /dismiss
POST   listing_upkeep.verify                 admin/test_listing_suggestions.py /verify
GET    suggestions.suggest_fix               admin/test_listing_suggestions.py /suggest
POST   suggestions.suggest_fix               admin/test_listing_suggestions.py /suggest
GET    suggestions.suggestion_sent           admin/test_listing_suggestions.py /suggest/sent
"""
CHECKED_ELSEWHERE = {
    (endpoint, method): (test_file, path)
    for method, endpoint, test_file, path in map(str.split, _CHECKED_ELSEWHERE.strip().splitlines())
}

_ACTION = re.compile(r"<any\(([^)]*)\):action>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _routes(app) -> set[tuple[str, str, str | None]]:
    """(endpoint, method, action) for every route; `<any(a, b):action>` counts once per action."""
    found = set()
    for rule in app.url_map.iter_rules():
        choices = _ACTION.search(rule.rule)
        actions = [a.strip() for a in choices[1].split(",")] if choices else [None]
        for method in rule.methods - _IGNORED_METHODS:
            found.update((rule.endpoint, method, action) for action in actions)
    return found


class _AnyId(dict):
    """Fills any `{name}` in a matrix path with something of the right shape."""

    def __missing__(self, key):
        return "not-a-real-token" if key == "token" else str(uuid.uuid4())


def _route_of(app, method: str, path: str) -> tuple[str, str, str | None]:
    url = path.format_map(_AnyId()).split("?")[0]
    endpoint, args = app.url_map.bind("localhost").match(url, method=method)
    return endpoint, method, args.get("action")


def _matrix_rows() -> dict[str, tuple[str, str]]:
    """Every matrix row as (method, path); the claim decisions have no "needs" column."""
    matrices = {"API": ENDPOINTS, "page": PAGES, "link": LINK_PAGES, "claim": DECISIONS}
    return {
        f"{kind} {name}": spec[0:2] if matrix is DECISIONS else spec[1:3]
        for kind, matrix in matrices.items()
        for name, spec in matrix.items()
    }


def test_every_route_is_in_a_matrix_or_listed(app):
    covered = {_route_of(app, method, path) for method, path in _matrix_rows().values()}
    listed = set(PUBLIC) | set(CHECKED_ELSEWHERE)
    forgotten = sorted(
        f"{method} {endpoint}" + (f" ({action})" if action else "")
        for endpoint, method, action in _routes(app) - covered
        if (endpoint, method) not in listed and endpoint.split(".")[0] not in PUBLIC_BLUEPRINTS
    )
    assert not forgotten, (
        "routes in no authorization matrix: add a row to test_authorization.ENDPOINTS, "
        "test_pages.PAGES or LINK_PAGES (tests/referrals), or list them in "
        f"tests/referrals/test_every_route.py with the reason: {forgotten}"
    )


def test_the_lists_name_only_real_routes_and_real_tests(app):
    """A route removed or renamed must leave the lists too, and a test named must request it."""
    real = {(endpoint, method) for endpoint, method, _ in _routes(app)}
    assert set(PUBLIC) <= real, set(PUBLIC) - real
    assert set(CHECKED_ELSEWHERE) <= real, set(CHECKED_ELSEWHERE) - real
    covered = {_route_of(app, method, path)[:2] for method, path in _matrix_rows().values()}
    assert not (set(PUBLIC) | set(CHECKED_ELSEWHERE)) & covered, "in a matrix: drop it here"
    for test_file, path in CHECKED_ELSEWHERE.values():
        assert path in (TESTS / test_file).read_text(), (test_file, path)


# -- the pages an emailed link opens ---------------------------------------------------------


@pytest.fixture
def emailed(db, network, create_member):
    """`emailed(state)`: a new referral to the listed service that has not joined (by email
    link), "sent" or "accepted" through its link; the values for a LINK_PAGES path."""
    names = iter(range(1, 10_000))

    def make(state: str) -> dict:
        member = create_member(first_name=f"Linked{next(names)}")
        coordinator = db.session.get(User, network.coordinator_a.id)
        referral = services.send_referral(
            coordinator, member, network.service_outside, need="Tenant lawyer"
        )
        db.session.flush()
        email = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.referral_id == referral.id)
        ).first()
        token = re.search(r"/r/([A-Za-z0-9_\-]+)", email.body)[1]
        if state == "accepted":
            link = links.current_link(referral)
            services.accept(referral, LinkActor(link.id, referral.id, link.sent_to))
        db.session.commit()
        return {"token": token, "referral": referral.id, "other_service": network.service_b.id}

    return make


def _withdraw(db, network, values: dict) -> None:
    coordinator = db.session.get(User, network.coordinator_a.id)
    links.revoke_link(coordinator, db.session.get(Referral, values["referral"]))
    db.session.commit()


@pytest.mark.parametrize("name", LINK_PAGES)
def test_link_pages_answer_the_token_not_the_person(name, db, network, emailed, signed_in):
    state, method, path, form, (live, withdrawn) = LINK_PAGES[name]

    def ask(role: str, values: dict):
        client = signed_in(network.people[role])
        url, data = fill_in(path, values), fill_in(form, values)
        return client.get(url) if method == "GET" else client.post(url, data=data)

    got = {role: ask(role, emailed(state)).status_code for role in ROLES}
    assert got == dict.fromkeys(ROLES, live)
    # A token nobody was given tells nothing, to anyone; a withdrawn one says so (410).
    for role in ("anonymous", "staff_b", "admin"):
        unknown = ask(role, {**emailed(state), "token": secrets.token_urlsafe(32)})
        assert unknown.status_code == 404, role
        assert "referral" not in text_of(unknown).lower().split("<main", 1)[-1], role
        values = emailed(state)
        _withdraw(db, network, values)
        assert ask(role, values).status_code == withdrawn, role
