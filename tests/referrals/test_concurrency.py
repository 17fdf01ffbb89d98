"""Two people answer the same referral at once: exactly one wins, the other hears who did.

Two threads, each with its own test client (so its own app context and database session), start
together on a Barrier. A second barrier inside the database layer holds each thread just before its
first write-lock statement (PostgreSQL: SELECT … FOR UPDATE; SQLite: UPDATE referral), so both have
read the referral as `sent` before either changes it — the real race, every run.
"""

import threading

import pytest
from sqlalchemy import func, select

from referrals import services
from referrals.models import ReferralEvent

SCENARIOS = [
    ("accept", {}, "decline", {"reason": "no_capacity"}),
    ("accept", {}, "accept", {}),
    ("decline", {"reason": "out_of_area"}, "forward", {"service_id": None}),
]


@pytest.mark.parametrize(("first", "first_body", "second", "second_body"), SCENARIOS)
def test_concurrent_answers_one_wins_one_gets_409(
    app,
    db,
    api,
    network,
    create_member,
    hold_before_first_write,
    first,
    first_body,
    second,
    second_body,
):
    member = create_member()
    referral = services.send_referral(
        network.coordinator_a, member, network.service_a, need="Groceries"
    )
    db.session.commit()
    if "service_id" in second_body:
        second_body = {"service_id": str(network.service_b.id)}
    calls = [
        (network.staff_a, first, first_body),
        (network.agency_admin_a, second, second_body),
    ]
    headers = [api.headers(user) for user, _, _ in calls]
    paths = [f"/api/v1/referrals/{referral.id}/{action}" for _, action, _ in calls]
    start = threading.Barrier(2, timeout=5)
    results: list = [None, None]

    def answer(index: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(paths[index], headers=headers[index], json=calls[index][2])
        results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(not t.is_alive() for t in threads)

    statuses = sorted(code for code, _ in results)
    assert statuses == [200, 409], results
    winner = next(i for i, (code, _) in enumerate(results) if code == 200)
    loser_body = results[1 - winner][1]
    winner_user, winner_action, _ = calls[winner]
    past = {"accept": "accepted", "decline": "declined", "forward": "forwarded"}[winner_action]
    # PostgreSQL: the loser waited on the row lock, then found the new status. SQLite: the
    # version column caught its stale UPDATE. Either way a 409 that says who got there first.
    expected_code = "illegal_transition" if db.engine.dialect.name == "postgresql" else "conflict"
    assert loser_body["error"]["code"] == expected_code
    assert f"already {past} by {winner_user.full_name}" in loser_body["error"]["message"]

    db.session.expire_all()
    transitions = db.session.scalars(
        select(ReferralEvent).where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.action.notin_(["send", "overdue"]),
        )
    ).all()
    assert [(e.action, e.actor_id) for e in transitions] == [(winner_action, winner_user.id)]
    assert db.session.get(type(referral), referral.id).status == past
    # The loser's side effects were rolled back with it: one notice for the coordinator.
    from referrals.models import Notification

    notices = db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == network.coordinator_a.id)
    )
    assert notices == 1
