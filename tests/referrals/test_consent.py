"""Consent: no referral without one in force, and agencies see only the fields it allows."""

import uuid
from datetime import date, timedelta

from sqlalchemy import func, select

from referrals import notifications
from referrals.deadlines import local_today
from referrals.errors import ConcurrentUpdate
from referrals.models import AuditLog, Consent, Notification, OutboxEmail, Referral, ReferralEvent


def _refer(api, network, member, service=None):
    return api.refer(network.coordinator_a, member, service or network.service_a, "Rent help")


def _referral_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Referral))


def test_missing_consent_is_refused_with_422(api, network, create_member, db):
    member = create_member(consent=False)
    response = _refer(api, network, member)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "consent_missing"
    assert "Record the member's consent" in error["message"]
    assert _referral_count(db) == 0


def test_expired_consent_is_refused_with_422(api, network, create_member, db):
    member = create_member()
    consent = db.session.scalars(select(Consent).where(Consent.member_id == member.id)).one()
    consent.expires_on = date.today() - timedelta(days=3)
    db.session.commit()
    response = _refer(api, network, member)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "consent_expired"
    assert consent.expires_on.isoformat() in error["message"]
    assert _referral_count(db) == 0


def test_revoked_consent_is_refused_then_a_new_one_works(api, network, create_member, db):
    member = create_member()
    consent_id = db.session.scalar(select(Consent.id).where(Consent.member_id == member.id))
    revoked = api.post(
        f"/api/v1/members/{member.id}/consents/{consent_id}/revoke", network.coordinator_a
    )
    assert revoked.status_code == 200
    assert revoked.get_json()["in_force"] is False
    response = _refer(api, network, member)
    api.assert_refused(response, 422, "consent_revoked")

    renewed = api.post(
        f"/api/v1/members/{member.id}/consents",
        network.coordinator_a,
        {"given_by": "Maria Lopez", "method": "verbal", "scope": ["first_name", "phone"]},
    )
    assert renewed.status_code == 201, renewed.get_json()
    assert renewed.get_json()["in_force"] is True
    assert _refer(api, network, member).status_code == 201


def test_consent_is_checked_again_when_a_referral_is_forwarded(api, network, create_member, db):
    member = create_member()
    rid = _refer(api, network, member).get_json()["id"]
    consent = db.session.scalars(select(Consent).where(Consent.member_id == member.id)).one()
    # Lapsed while the referral waited: yesterday where the network is (not the machine's date).
    consent.expires_on = local_today() - timedelta(days=1)
    db.session.commit()
    forwarded = api.act(rid, "forward", network.staff_a, {"service_id": str(network.service_b.id)})
    api.assert_refused(forwarded, 422, "consent_expired")
    # Nothing half-done: the original is still waiting, and no new referral exists.
    assert api.get(f"/api/v1/referrals/{rid}", network.coordinator_a).get_json()["status"] == "sent"
    assert _referral_count(db) == 1


def test_agency_sees_only_the_fields_the_consent_allows(api, network, create_member):
    member = create_member(scope=["first_name", "preferred_language", "phone"])
    rid = _refer(api, network, member).get_json()["id"]

    as_agency = api.get(f"/api/v1/referrals/{rid}", network.staff_a).get_json()["member"]
    assert as_agency["restricted"] is True
    assert as_agency["shared_fields"] == ["first_name", "phone", "preferred_language"]
    assert as_agency["first_name"] == "Maria" and as_agency["phone"] == "(315) 555-0142"
    for hidden in ("last_name", "birth_date", "email", "address", "postal_code", "needs"):
        assert hidden not in as_agency
    assert "consent" not in as_agency and "organization_id" not in as_agency

    member_page = api.get(f"/api/v1/members/{member.id}", network.staff_a).get_json()
    assert set(member_page) == {
        "id",
        "restricted",
        "shared_fields",
        "first_name",
        "phone",
        "preferred_language",
    }
    listed = api.get("/api/v1/members", network.agency_admin_a).get_json()["items"]
    assert listed == [member_page]

    # The coordinator's own organization sees everything, and the consent.
    as_owner = api.get(f"/api/v1/members/{member.id}", network.coordinator_a2).get_json()
    assert as_owner["restricted"] is False
    assert as_owner["needs"] == "Food insecurity; HIV care follow-up"
    assert as_owner["birth_date"] == "1979-04-02"
    assert as_owner["consent"]["scope"] == ["first_name", "phone", "preferred_language"]


def test_revoking_consent_hides_the_member_from_the_agency_at_once(api, network, create_member, db):
    member = create_member(scope=["first_name", "last_name", "phone"])
    rid = _refer(api, network, member).get_json()["id"]
    consent_id = db.session.scalar(select(Consent.id).where(Consent.member_id == member.id))
    api.post(f"/api/v1/members/{member.id}/consents/{consent_id}/revoke", network.coordinator_a)
    seen = api.get(f"/api/v1/referrals/{rid}", network.staff_a).get_json()["member"]
    assert seen == {"id": str(member.id), "restricted": True, "shared_fields": []}


def test_consent_input_is_checked(api, network, create_member):
    member = create_member(consent=False)
    path = f"/api/v1/members/{member.id}/consents"
    bad = api.post(
        path,
        network.coordinator_a,
        {"given_by": "", "method": "telepathy", "scope": ["ssn"], "expires_on": "2020-13-01"},
    )
    assert bad.status_code == 400
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) == {"given_by", "method", "scope", "expires_on"}  # all at once
    assert "not a date" in fields["expires_on"]
    bad = api.post(
        path,
        network.coordinator_a,
        {"given_by": "", "method": "telepathy", "scope": ["ssn"], "expires_on": "2020-01-01"},
    )
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) == {"given_by", "method", "scope", "expires_on"}
    assert "ssn" in fields["scope"]
    assert "already have expired" in fields["expires_on"]
    empty_scope = api.post(
        path, network.coordinator_a, {"given_by": "Maria", "method": "verbal", "scope": []}
    )
    assert empty_scope.status_code == 400
    assert api.post(path, network.staff_a, {"given_by": "x"}).status_code == 404


def test_the_newest_consent_supersedes_older_ones(api, network, create_member, db):
    member = create_member(scope=["first_name", "last_name", "phone", "address"])
    rid = _refer(api, network, member).get_json()["id"]
    narrower = api.post(
        f"/api/v1/members/{member.id}/consents",
        network.coordinator_a,
        {"given_by": "Maria Lopez", "method": "written", "scope": ["first_name"]},
    )
    assert narrower.status_code == 201
    seen = api.get(f"/api/v1/referrals/{rid}", network.staff_a).get_json()["member"]
    assert seen["shared_fields"] == ["first_name"]

    # Revoking the newest consent does not bring the older, broader one back.
    api.post(
        f"/api/v1/members/{member.id}/consents/{narrower.get_json()['id']}/revoke",
        network.coordinator_a,
    )
    seen = api.get(f"/api/v1/referrals/{rid}", network.staff_a).get_json()["member"]
    assert seen["shared_fields"] == []
    refused = _refer(api, network, member, network.service_a2)
    api.assert_refused(refused, 422, "consent_revoked")


# -- revoking consent closes the loop --------------------------------------------------------


def _consent_id(db, member) -> uuid.UUID:
    return db.session.scalar(
        select(Consent.id).where(Consent.member_id == member.id).order_by(Consent.given_at)
    )


def _revoke(api, member, consent_id, as_):
    return api.post(f"/api/v1/members/{member.id}/consents/{consent_id}/revoke", as_)


def _status(api, network, rid) -> str:
    return api.get(f"/api/v1/referrals/{rid}", network.coordinator_a).get_json()["status"]


def test_revoking_consent_cancels_the_referrals_still_waiting_for_an_answer(
    api, network, create_member, db
):
    member = create_member()
    waiting = _refer(api, network, member).get_json()["id"]  # sent by Ana (coordinator A)
    accepted = _refer(api, network, member, network.service_a2).get_json()["id"]
    assert api.act(accepted, "accept", network.staff_a).status_code == 200
    someone_else = _refer(api, network, create_member(first_name="Rosa")).get_json()["id"]

    revoked = _revoke(api, member, _consent_id(db, member), network.coordinator_a2)  # Ben

    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["in_force"] is False
    assert revoked.get_json()["cancelled_referral_ids"] == [waiting]
    cancelled = api.get(f"/api/v1/referrals/{waiting}", network.coordinator_a).get_json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "consent_revoked")
    assert cancelled["allowed_actions"] == []
    event = cancelled["events"][-1]
    assert (event["action"], event["from_status"], event["to_status"]) == (
        "cancel",
        "sent",
        "cancelled",
    )
    assert (event["reason"], event["reason_label"]) == (
        "consent_revoked",
        "the member revoked their consent",
    )
    assert event["actor"]["name"] == "Ben Okafor"
    # The agency keeps working on what it accepted, without the member's details.
    kept = api.get(f"/api/v1/referrals/{accepted}", network.staff_a).get_json()
    assert kept["status"] == "accepted" and kept["member"]["shared_fields"] == []
    assert _status(api, network, someone_else) == "sent"
    # Both sides hear it, as of any cancellation: the agency's people and the coordinator who
    # sent it; not Ben, who revoked. Emails carry the reason, never the member.
    told = db.session.scalars(
        select(Notification).where(
            Notification.referral_id == uuid.UUID(waiting), Notification.kind == "cancelled"
        )
    ).all()
    assert {n.user_id for n in told} == {
        network.staff_a.id,
        network.agency_admin_a.id,
        network.coordinator_a.id,
    }
    assert all(n.text.endswith(": the member revoked their consent") for n in told)
    emails = db.session.scalars(
        select(OutboxEmail).where(
            OutboxEmail.referral_id == uuid.UUID(waiting), OutboxEmail.kind == "cancelled"
        )
    ).all()
    assert len(emails) == 3
    assert all("Maria" not in e.body and "revoked their consent" in e.body for e in emails)
    audited = db.session.scalars(
        select(AuditLog.action).where(AuditLog.object_id == uuid.UUID(waiting))
    ).all()
    assert "cancel" in audited


def test_a_revocation_that_cannot_cancel_every_waiting_referral_changes_nothing(
    api, network, create_member, db, monkeypatch
):
    member = create_member()
    rids = [
        _refer(api, network, member, s).get_json()["id"]
        for s in (network.service_a, network.service_b)
    ]
    consent_id = _consent_id(db, member)
    told = notifications.referral_cancelled

    def second_fails(referral, *args, **kwargs):
        if str(referral.id) == rids[1]:
            raise ConcurrentUpdate(
                "Cannot cancel: someone changed this referral at the same moment."
            )
        return told(referral, *args, **kwargs)

    monkeypatch.setattr(notifications, "referral_cancelled", second_fails)

    response = _revoke(api, member, consent_id, network.coordinator_a)

    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Consent, consent_id).revoked_at is None
    assert [_status(api, network, rid) for rid in rids] == ["sent", "sent"]
    assert (
        db.session.scalar(
            select(func.count()).select_from(ReferralEvent).where(ReferralEvent.action == "cancel")
        )
        == 0
    )
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "cancelled")
        )
        == 0
    )
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action.in_(["revoke", "cancel"]))
        )
        == 0
    )


def test_who_may_revoke_and_when_nothing_is_cancelled(api, network, create_member, db):
    member = create_member()
    rid = _refer(api, network, member).get_json()["id"]
    older = _consent_id(db, member)
    for outsider, refused in (
        (network.staff_a, 403),
        (network.admin, 403),
        (network.coordinator_b, 404),
    ):
        assert _revoke(api, member, older, outsider).status_code == refused
    assert _status(api, network, rid) == "sent"
    newer = api.post(
        f"/api/v1/members/{member.id}/consents",
        network.coordinator_a,
        {"given_by": "Maria Lopez", "method": "verbal", "scope": ["first_name"]},
    ).get_json()["id"]

    superseded = _revoke(api, member, older, network.coordinator_a)  # the newer one stands

    assert superseded.get_json()["cancelled_referral_ids"] == []
    assert _status(api, network, rid) == "sent"
    assert _revoke(api, member, newer, network.coordinator_a).get_json()[
        "cancelled_referral_ids"
    ] == [rid]
    again = _revoke(api, member, newer, network.coordinator_a)
    assert again.status_code == 200 and again.get_json()["cancelled_referral_ids"] == []
    assert (
        db.session.scalar(
            select(func.count()).select_from(ReferralEvent).where(ReferralEvent.action == "cancel")
        )
        == 1
    )


def test_nobody_cancels_for_consent_revoked_by_hand(api, network, create_member):
    rid = _refer(api, network, create_member()).get_json()["id"]
    response = api.act(rid, "cancel", network.coordinator_a, {"reason": "consent_revoked"})
    assert response.status_code == 400
    assert "consent_revoked" in response.get_json()["error"]["fields"]["reason"]
    assert "member_declined" in response.get_json()["error"]["fields"]["reason"]
