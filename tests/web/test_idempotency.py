"""Issue 10, item 9: a committed write is never answered with an error, and a retry never
writes twice.

The creation endpoints build their answer from the rows they just wrote, before the commit, so
a connection lost after the commit can't turn a success into an error. With an
`Idempotency-Key` header, the first answer is stored in the same transaction as the rows and a
retry gets it again (`Idempotent-Replayed: true`) instead of a second member or referral.
"""

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from extensions import utcnow
from referrals.models import Consent, Member, Referral, ReferralMessage
from tests.referrals.conftest import hold_threads_before  # noqa: F401  (fixture)
from web.idempotency import IdempotencyKey

MEMBER = {"first_name": "Rosa", "last_name": "Vega", "phone": "(315) 555-0188"}


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _post(api, path, user, body, key=None):
    headers = api.headers(user)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post(path, headers=headers, json=body)


# -- no read after the commit ----------------------------------------------------------------


@contextmanager
def connection_lost_after_commit(db):
    """From the first commit that wrote rows on, every statement fails as a dropped connection
    would; yields the statements that were tried after that commit."""
    state = {"wrote": False, "committed": False}
    tried: list[str] = []
    driver_error = db.engine.dialect.loaded_dbapi.OperationalError

    def note_write(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            state["wrote"] = True

    def after_commit(session):
        if state["wrote"]:
            state["committed"] = True

    def fail_if_committed(conn, cursor, statement, parameters, context, executemany):
        if state["committed"]:
            tried.append(statement)
            raise driver_error("server closed the connection unexpectedly")

    event.listen(db.engine, "after_cursor_execute", note_write)
    event.listen(db.engine, "before_cursor_execute", fail_if_committed)
    event.listen(Session, "after_commit", after_commit)
    try:
        yield tried
    finally:
        event.remove(db.engine, "after_cursor_execute", note_write)
        event.remove(db.engine, "before_cursor_execute", fail_if_committed)
        event.remove(Session, "after_commit", after_commit)


def _creations(network, member, referral):
    """(path, who, body, the model a row is added to) for each endpoint that creates a row."""
    rid = referral.id
    return {
        "member": ("/api/v1/members", network.coordinator_a, MEMBER, Member),
        "consent": (
            f"/api/v1/members/{member.id}/consents",
            network.coordinator_a,
            {"given_by": "Maria Lopez", "method": "verbal", "scope": ["first_name"]},
            Consent,
        ),
        "referral": (
            "/api/v1/referrals",
            network.coordinator_a,
            {"member_id": str(member.id), "service_id": str(network.service_b.id), "need": "Bed"},
            Referral,
        ),
        "message": (
            f"/api/v1/referrals/{rid}/messages",
            network.staff_a,
            {"body": "Can she come Tuesday?"},
            ReferralMessage,
        ),
        "forward": (
            f"/api/v1/referrals/{rid}/forward",
            network.staff_a,
            {"service_id": str(network.service_b.id), "note": "They have beds"},
            Referral,
        ),
    }


@pytest.mark.parametrize("endpoint", ["member", "consent", "referral", "message", "forward"])
def test_a_connection_lost_after_the_commit_still_answers_the_write(
    db, api, network, member, referral, endpoint
):
    path, user, body, model = _creations(network, member, referral)[endpoint]
    api.headers(user)  # the token is issued (and committed) before the request
    before = _count(db, model)
    with connection_lost_after_commit(db) as tried_after_commit:
        response = _post(api, path, user, body)
    assert response.status_code in (200, 201), response.get_json()
    assert tried_after_commit == []
    assert _count(db, model) == before + 1
    assert response.get_json()["id"]


# -- Idempotency-Key -------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(db, api, network):
    first = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, key="member-rosa-1")
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    # The same body with its keys in another order is the same request.
    reordered = dict(reversed(MEMBER.items()))
    again = _post(api, "/api/v1/members", network.coordinator_a, reordered, "member-rosa-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _count(db, Member) == 1


def test_a_retried_referral_is_sent_once(db, api, network, member):
    body = {"member_id": str(member.id), "service_id": str(network.service_a.id), "need": "Food"}
    answers = [_post(api, "/api/v1/referrals", network.coordinator_a, body, "ref-1") for _ in "ab"]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].get_json() == answers[1].get_json()
    assert _count(db, Referral) == 1


def test_the_same_key_with_another_body_or_endpoint_is_refused(db, api, network, member):
    first = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, key="k-1")
    assert first.status_code == 201
    other = _post(api, "/api/v1/members", network.coordinator_a, {**MEMBER, "phone": ""}, "k-1")
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    elsewhere = _post(
        api,
        f"/api/v1/members/{member.id}/consents",
        network.coordinator_a,
        {"given_by": "Maria Lopez", "method": "verbal", "scope": ["first_name"]},
        "k-1",
    )
    assert elsewhere.status_code == 422
    assert elsewhere.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _count(db, Member) == 2  # the fixture's member and the first request's


def test_keys_belong_to_one_user(db, api, network):
    mine = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, key="shared-key")
    theirs = _post(api, "/api/v1/members", network.coordinator_a2, MEMBER, key="shared-key")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert _count(db, Member) == 2


def test_a_failed_request_leaves_its_key_unused(db, api, network):
    refused = _post(api, "/api/v1/members", network.coordinator_a, {"first_name": ""}, "k-2")
    assert refused.status_code == 400
    assert _count(db, IdempotencyKey) == 0
    fixed = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, "k-2")
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert _count(db, IdempotencyKey) == 1


def test_an_expired_key_is_a_new_request_and_old_keys_are_purged(app, db, api, network):
    assert app.config["IDEMPOTENCY_KEY_HOURS"] == 24
    first = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, key="old-key")
    assert first.status_code == 201
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    again = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, key="old-key")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
    assert _count(db, Member) == 2
    assert _count(db, IdempotencyKey) == 1

    # Another user's expired keys go with the sweep that runs from cron.
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["referrals", "sweep"])
    assert result.exit_code == 0, result.output
    assert _count(db, IdempotencyKey) == 0


@pytest.mark.parametrize(
    "key", ["", "   ", "x" * 256, "tab\there", "bell\x07", "caf\u00e9"], ids=repr
)
def test_an_unusable_key_is_refused(db, api, network, key):
    response = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, key=key)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_idempotency_key"
    assert _count(db, Member) == 0


def test_a_quoted_key_and_the_longest_key_are_accepted(db, api, network):
    longest = "k" * 255
    assert _post(api, "/api/v1/members", network.coordinator_a, MEMBER, longest).status_code == 201
    quoted = _post(api, "/api/v1/members", network.coordinator_a, MEMBER, f'"{longest}"')
    assert quoted.headers["Idempotent-Replayed"] == "true"
    assert _count(db, Member) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_racing_requests_with_one_key_create_one_member(
    app,
    db,
    api,
    network,
    hold_threads_before,  # noqa: F811
):
    headers = {**api.headers(network.coordinator_a), "Idempotency-Key": "race-1"}
    hold_threads_before(lambda sql: sql.startswith("INSERT INTO idempotency_key"))
    answers = []

    def request():
        answers.append(app.test_client().post("/api/v1/members", headers=headers, json=MEMBER))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.get_json() for a in answers]
    [loser] = [a for a in answers if a.status_code == 409]
    assert loser.get_json()["error"]["code"] == "idempotency_key_in_progress"
    assert _count(db, Member) == 1
    # Once the winner has committed, a retry gets its answer.
    retry = api.client.post("/api/v1/members", headers=headers, json=MEMBER)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _count(db, Member) == 1


def test_the_api_description_offers_the_header_on_every_write(client):
    document = client.get("/api/v1/openapi.json").get_json()
    header = document["components"]["parameters"]["idempotency_key"]
    assert (header["name"], header["in"], header["schema"]["maxLength"]) == (
        "Idempotency-Key",
        "header",
        255,
    )
    writes = [
        path
        for path, item in document["paths"].items()
        if "post" in item
        and (path.startswith(("/members", "/referrals")))
        and not path.endswith("/revoke")
    ]
    assert len(writes) == 11  # members, consents, referrals, 6 actions, assign, notes
    for path in writes:
        refs = [p.get("$ref") for p in document["paths"][path]["post"]["parameters"]]
        assert "#/components/parameters/idempotency_key" in refs, path
