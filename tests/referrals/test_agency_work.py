"""The receiving agency's own work: assigning a referral to a colleague ("Assigned to me"),
internal notes the coordinator's side never sees, the forward picker's search, and the rule that
the coordinator who sent a referral hears of every change to it, whoever made it."""

import csv
import io
import re

from sqlalchemy import select

from accounts.outbox import OutboxEmail
from referrals import services
from referrals.models import AuditLog, Notification, Referral, ReferralEvent, ReferralNote
from tests.referrals.pages import htmx_headers, refer, text_of

SECRET = "Prefers mornings; brother at the same address"


def _reload(db, model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _notices(db, user, kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )
    )


# -- assignment ------------------------------------------------------------------------------


def test_staff_assign_a_referral_to_a_colleague_who_is_told(db, network, referral, signed_in):
    client = signed_in(network.staff_a)
    response = client.post(
        f"/referrals/{referral.id}/assign", data={"assignee_id": str(network.agency_admin_a.id)}
    )
    assert response.status_code == 303
    assert _reload(db, Referral, referral.id).assigned_to_id == network.agency_admin_a.id
    event = db.session.scalar(
        select(ReferralEvent).where(
            ReferralEvent.referral_id == referral.id, ReferralEvent.action == "assigned"
        )
    )
    assert event.actor_id == network.staff_a.id and event.note == "Assigned to Eve Moreau."
    # The assignee hears of it, in the app and by email; nobody else does.
    (notice,) = _notices(db, network.agency_admin_a, "assigned")
    assert notice.text == "Dev Patel assigned you the referral to Emergency food boxes"
    assert db.session.scalar(
        select(OutboxEmail).where(
            OutboxEmail.to_address == network.agency_admin_a.email, OutboxEmail.kind == "assigned"
        )
    )
    assert not _notices(db, network.coordinator_a, "assigned")
    # The timeline of the agency's page says so, and who handles it now.
    page = text_of(signed_in(network.agency_admin_a).get(f"/referrals/{referral.id}"))
    assert "<strong>Assigned</strong>" in page and "Assigned to Eve Moreau." in page
    assert re.search(
        rf'<option value="{network.agency_admin_a.id}" selected>Eve Moreau \(me\)', page
    )
    # Without JavaScript a refusal comes back on the referral page, next to the field.
    refused = client.post(f"/referrals/{referral.id}/assign", data={"assignee_id": "not-an-id"})
    assert refused.status_code == 422
    assert f'id="assignee-{referral.id}-error">Not an active member' in text_of(refused)
    # Unassigning is an event too; assigning to whoever has it already changes nothing.
    client.post(f"/referrals/{referral.id}/assign", data={"assignee_id": ""})
    client.post(f"/referrals/{referral.id}/assign", data={"assignee_id": ""})
    events = db.session.scalars(
        select(ReferralEvent.note).where(
            ReferralEvent.referral_id == referral.id, ReferralEvent.action == "assigned"
        )
    ).all()
    assert sorted(events) == ["Assigned to Eve Moreau.", "Unassigned."]
    assert _reload(db, Referral, referral.id).assigned_to_id is None


def test_only_the_receiving_agency_assigns_and_only_to_its_own_staff(
    db, network, referral, api, create_user
):
    path = f"/api/v1/referrals/{referral.id}/assign"
    mine = {"assignee_id": str(network.staff_a.id)}
    api.assert_refused(api.post(path, network.coordinator_a, mine), 403, "forbidden")
    api.assert_refused(api.post(path, network.coordinator_b, mine), 404, "referral_not_found")
    api.assert_refused(api.post(path, network.staff_b, mine), 404, "referral_not_found")
    api.assert_refused(api.post(path, network.admin, mine), 403, "forbidden")
    left = create_user("gone@pantry.example.org", "agency_staff", network.agency_a, active=False)
    for outsider in (network.staff_b, network.coordinator_a, network.admin, left):
        refused = api.post(path, network.staff_a, {"assignee_id": str(outsider.id)})
        api.assert_refused(refused, 422, "not_a_colleague")
        assert refused.get_json()["error"]["fields"] == {
            "assignee_id": "Not an active member of your agency's staff."
        }
    unknown = api.post(
        path, network.staff_a, {"assignee_id": "6f1c58d4-0000-4000-8000-000000000000"}
    )
    api.assert_refused(unknown, 422, "not_a_colleague")
    api.assert_refused(api.post(path, network.staff_a, {"assignee_id": 7}), 400, "invalid")
    assert _reload(db, Referral, referral.id).assigned_to_id is None
    done = api.post(path, network.staff_a, mine)
    assert done.status_code == 200
    assert done.get_json()["assigned_to"] == {"id": str(network.staff_a.id), "name": "Dev Patel"}
    # Taking it oneself tells nobody; a closed referral has nothing left to assign.
    assert not _notices(db, network.staff_a, "assigned")
    services.decline(_reload(db, Referral, referral.id), network.staff_a, reason="no_capacity")
    db.session.commit()
    api.assert_refused(
        api.post(path, network.staff_a, {"assignee_id": None}), 409, "illegal_transition"
    )


def test_the_assigned_to_me_tab_its_row_form_and_its_csv(
    db, network, member, referral, create_member, signed_in
):
    other = refer(db, network, create_member(first_name="Ida", last_name="Wells"), need="Rent")
    staff = signed_in(network.staff_a)
    # From the inbox row, in place (htmx): the row answers, and the tabs are told to refresh.
    row = staff.post(
        f"/referrals/{referral.id}/assign",
        data={"assignee_id": str(network.agency_admin_a.id)},
        headers=htmx_headers(f"referral-{referral.id}"),
    )
    assert row.status_code == 200 and row.headers["HX-Trigger"] == "referral-changed"
    assert text_of(row).lstrip().startswith(f'<li id="referral-{referral.id}"')
    refused = staff.post(
        f"/referrals/{other.id}/assign",
        data={"assignee_id": str(network.staff_b.id)},
        headers=htmx_headers(f"referral-{other.id}"),
    )
    assert refused.status_code == 422
    assert f'id="assignee-{other.id}-error">Not an active member' in text_of(refused)

    admin = signed_in(network.agency_admin_a)
    mine = text_of(admin.get("/inbox?tab=mine"))
    assert re.search(
        r'aria-current="page"[^>]*>Assigned to me <span class="tab-count">1</span>', mine
    )
    assert f'id="referral-{referral.id}"' in mine and f'id="referral-{other.id}"' not in mine
    assert "Nothing assigned to you" in text_of(staff.get("/inbox?tab=mine"))
    download = admin.get("/inbox.csv?tab=mine")
    rows = list(csv.reader(io.StringIO(text_of(download))))
    assert [r[1] for r in rows[1:]] == ["Maria Lopez"]
    assert len(list(csv.reader(io.StringIO(text_of(staff.get("/inbox.csv?tab=mine")))))) == 1
    export = db.session.scalars(
        select(AuditLog).where(
            AuditLog.action == "export", AuditLog.actor_id == network.agency_admin_a.id
        )
    ).one()
    assert export.detail["filters"] == {"tab": "mine"} and export.detail["rows"] == 1
    # Once closed it leaves the tab: it is no longer work to do.
    services.decline(_reload(db, Referral, referral.id), network.staff_a, reason="no_capacity")
    db.session.commit()
    assert "Nothing assigned to you" in text_of(admin.get("/inbox?tab=mine"))


# -- internal notes --------------------------------------------------------------------------


def test_internal_notes_are_the_agencys_alone(db, network, referral, signed_in, api):
    staff = signed_in(network.staff_a)
    response = staff.post(f"/referrals/{referral.id}/notes", data={"body": SECRET})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/referrals/{referral.id}#notes-{referral.id}")
    # In place (htmx): the notes region answers; an empty note is refused next to the field.
    region = staff.post(
        f"/referrals/{referral.id}/notes",
        data={"body": "  "},
        headers=htmx_headers(f"notes-{referral.id}"),
    )
    assert region.status_code == 400
    assert text_of(region).lstrip().startswith(f'<section id="notes-{referral.id}"')
    assert f'id="note-body-{referral.id}-error" role="alert">This is required.' in text_of(region)
    # A colleague sees it on the referral page and over the API.
    colleague = text_of(signed_in(network.agency_admin_a).get(f"/referrals/{referral.id}"))
    assert "Internal notes" in colleague and SECRET in colleague
    listed = api.get(f"/api/v1/referrals/{referral.id}/notes", network.agency_admin_a)
    assert [n["body"] for n in listed.get_json()["items"]] == [SECRET]
    assert listed.get_json()["items"][0]["author"]["name"] == "Dev Patel"

    # The coordinator's side: not on the page, not in the API, not in the CSV, not notified.
    for person in (network.coordinator_a, network.admin):
        page = text_of(signed_in(person).get(f"/referrals/{referral.id}"))
        assert SECRET not in page and "Internal notes" not in page
        body = text_of(api.get(f"/api/v1/referrals/{referral.id}", person))
        assert SECRET not in body
        api.assert_refused(
            api.get(f"/api/v1/referrals/{referral.id}/notes", person), 403, "forbidden"
        )
        api.assert_refused(
            api.post(f"/api/v1/referrals/{referral.id}/notes", person, {"body": "x"}),
            403,
            "forbidden",
        )
    api.assert_refused(
        api.get(f"/api/v1/referrals/{referral.id}/notes", network.staff_b),
        404,
        "referral_not_found",
    )
    assert SECRET not in text_of(signed_in(network.coordinator_a).get("/referrals.csv"))
    assert SECRET not in text_of(signed_in(network.staff_a).get("/inbox.csv"))
    assert not db.session.scalars(
        select(Notification).where(Notification.text.contains("Prefers"))
    ).all()
    assert not db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.body.contains("Prefers"))
    ).all()
    # The access log keeps the fact (which note), never the text.
    (row,) = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "create", AuditLog.object_id == referral.id)
    ).all()
    assert set(row.detail) == {"internal_note_id"} and SECRET not in str(row.detail)
    audit_csv = text_of(signed_in(network.admin).get("/admin/audit.csv"))
    assert row.detail["internal_note_id"] in audit_csv and "Prefers" not in audit_csv


def test_an_email_links_page_never_shows_internal_notes(db, network, create_member, client):
    from tests.referrals.test_email_links import _link_email, _token

    referral = refer(db, network, create_member(), network.service_outside)
    token = _token(_link_email(db, referral))
    db.session.add(ReferralNote(referral_id=referral.id, author_id=None, body=SECRET))
    db.session.commit()
    page = text_of(client.get(f"/r/{token}"))
    assert "Referral to Free tenant lawyer" in page
    assert SECRET not in page and "Internal notes" not in page


def test_notes_api_is_idempotent_and_checks_its_body(db, network, referral, api):
    path = f"/api/v1/referrals/{referral.id}/notes"
    headers = {**api.headers(network.staff_a), "Idempotency-Key": "note-1"}
    first = api.client.post(path, headers=headers, json={"body": SECRET})
    again = api.client.post(path, headers=headers, json={"body": SECRET})
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert db.session.query(ReferralNote).count() == 1
    api.assert_refused(api.post(path, network.staff_a, {"body": ""}), 400, "invalid")
    api.assert_refused(api.post(path, network.staff_a, {"body": 5}), 400, "invalid")
    api.assert_refused(api.post(path, network.staff_a, {"text": "x"}), 400, "invalid")


# -- the sender hears of every change --------------------------------------------------------


def test_the_sender_hears_of_a_colleagues_cancel_and_message(db, network, referral, api):
    path = f"/api/v1/referrals/{referral.id}"
    said = api.post(f"{path}/messages", network.coordinator_a2, {"body": "Any news?"})
    assert said.status_code == 201
    cancelled = api.post(f"{path}/cancel", network.coordinator_a2, {"reason": "sent_in_error"})
    assert cancelled.status_code == 200
    for kind in ("message", "cancelled"):
        (notice,) = _notices(db, network.coordinator_a, kind)
        assert notice.referral_id == referral.id
        assert _notices(db, network.staff_a, kind)  # the agency hears, as before
        assert not _notices(db, network.coordinator_a2, kind)  # not the one who did it
    assert db.session.scalar(
        select(OutboxEmail).where(
            OutboxEmail.to_address == network.coordinator_a.email, OutboxEmail.kind == "cancelled"
        )
    )


def test_the_sender_is_not_told_twice_of_their_own_change(db, network, referral, api):
    api.post(
        f"/api/v1/referrals/{referral.id}/cancel",
        network.coordinator_a,
        {"reason": "sent_in_error"},
    )
    assert not _notices(db, network.coordinator_a, "cancelled")
    assert _notices(db, network.staff_a, "cancelled") and _notices(
        db, network.agency_admin_a, "cancelled"
    )


# -- the forward picker ----------------------------------------------------------------------


def test_the_forward_picker_searches_as_you_type(db, network, referral, signed_in):
    client = signed_in(network.staff_a)
    target = htmx_headers(f"forward-choices-{referral.id}")
    url = f"/referrals/{referral.id}/forward-services"
    found = client.get(f"{url}?forward_q=emergency", headers=target)
    html = text_of(found)
    assert found.status_code == 200
    assert html.lstrip().startswith(f'<fieldset id="forward-choices-{referral.id}"')
    assert "<legend>To which service</legend>" in html
    assert f'value="{network.service_b.id}"' in html and "Emergency shelter beds" in html
    assert f'value="{network.service_a.id}"' not in html  # the referral's own service
    radio = re.search(r'<input type="radio" id="([^"]+)" name="service_id"', html)[1]
    assert f'<label for="{radio}">' in html
    nothing = text_of(client.get(f"{url}?forward_q=zzzqqqxx", headers=target))
    assert "No service that can take a referral now matches" in nothing
    assert "Search for the service above" in text_of(client.get(url, headers=target))
    # Without JavaScript the search goes to the referral page, which lists the matches.
    plain = client.get(f"{url}?forward_q=shelter")
    assert plain.status_code == 303
    assert (
        plain.headers["Location"]
        == f"/referrals/{referral.id}?forward_q=shelter#forward-{referral.id}"
    )
    page = text_of(client.get(f"/referrals/{referral.id}?forward_q=shelter"))
    assert f'<details class="action-panel" id="forward-{referral.id}" open>' in page
    assert f'value="{network.service_b.id}"' in page
    # Those who can't forward it can't search from it either.
    assert signed_in(network.coordinator_a).get(url, headers=target).status_code == 403
    assert signed_in(network.staff_b).get(url, headers=target).status_code == 404


def test_the_forward_picker_leaves_out_services_that_cant_take_a_referral(
    db, network, referral, signed_in
):
    from directory.models import Service

    db.session.get(Service, network.service_b.id).referral_capacity = "not_accepting"
    db.session.commit()
    html = text_of(
        signed_in(network.staff_a).get(
            f"/referrals/{referral.id}/forward-services?forward_q=emergency",
            headers=htmx_headers(f"forward-choices-{referral.id}"),
        )
    )
    assert f'value="{network.service_b.id}"' not in html


def test_an_email_links_forward_picker(db, network, create_member, client):
    from tests.referrals.test_email_links import _link_email, _token

    referral = refer(db, network, create_member(), network.service_outside)
    token = _token(_link_email(db, referral))
    html = text_of(
        client.get(
            f"/r/{token}/forward-services?forward_q=emergency", headers={"HX-Request": "true"}
        )
    )
    assert f'value="{network.service_b.id}"' in html
    assert f'value="{network.service_outside.id}"' not in html
    plain = client.get(f"/r/{token}/forward-services?forward_q=emergency")
    assert plain.status_code == 303
    page = text_of(client.get(plain.headers["Location"]))
    assert f'value="{network.service_b.id}"' in page
    assert client.get("/r/not-a-token/forward-services?forward_q=x").status_code == 404


def test_a_refused_forward_shows_the_same_choices_again(db, network, referral, signed_in):
    client = signed_in(network.staff_a)
    for headers in ({}, htmx_headers(f"referral-{referral.id}")):
        refused = client.post(
            f"/referrals/{referral.id}/forward", data={"forward_q": "emergency"}, headers=headers
        )
        html = text_of(refused)
        assert refused.status_code == 400
        assert f'id="forward-service-{referral.id}-error">Choose the service' in html
        assert f'value="{network.service_b.id}"' in html
        assert 'name="forward_q" value="emergency"' in html
    assert _reload(db, Referral, referral.id).status == "sent"


def test_someone_who_left_still_shows_as_the_assignee(db, network, referral, signed_in):
    from accounts.models import User

    stored = _reload(db, Referral, referral.id)
    stored.assigned_to_id = network.agency_admin_a.id
    db.session.get(User, network.agency_admin_a.id).active = False
    db.session.commit()
    page = text_of(signed_in(network.staff_a).get(f"/referrals/{referral.id}"))
    assert re.search(
        rf'<option value="{network.agency_admin_a.id}" selected>Eve Moreau \(no longer on staff\)',
        page,
    )
