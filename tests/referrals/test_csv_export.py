"""Referral lists download as CSV (issue 11 item 6): the coordinator's dashboard and the agency
inbox, with the screen's filters, every page, members as the viewer may see them, cells that a
spreadsheet will not run as formulas, one `export` row in the access log per download."""

import csv
import io

import pytest
from sqlalchemy import select

from referrals import deadlines, exports, services
from referrals.models import AuditLog, Referral
from tests.referrals.pages import refer, text_of
from web.spreadsheet import safe_cell

HEADER_DASHBOARD = "Sent,Member,Service,Agency,Need,Urgency,Status,Answer due,Answered,Outcome"


def _table(response) -> list[dict]:
    assert response.status_code == 200, text_of(response)[:300]
    return list(csv.DictReader(io.StringIO(text_of(response))))


def _exports(db, actor) -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog).where(AuditLog.actor_id == actor.id, AuditLog.action == "export")
        )
    )


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 315", "'+1 315"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Food = help", "Food = help"),
        (None, ""),
        (3, "3"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(value, cell):
    assert safe_cell(value) == cell


def test_the_dashboard_downloads_every_page_as_streamed_csv(
    db, network, member, signed_in, monkeypatch
):
    monkeypatch.setattr(exports, "BATCH", 5)  # read in several batches, as a long list is
    for number in range(23):  # more than one page (20 a page)
        refer(db, network, member, need=f"Need {number:02d}", confirm_duplicate=True)
    client = signed_in(network.coordinator_a)
    page = text_of(client.get("/referrals"))
    assert 'href="/referrals.csv?' not in page and 'href="/referrals.csv"' in page
    response = client.get("/referrals.csv")
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    today = deadlines.local_today().isoformat()
    assert response.headers["Content-Disposition"] == f"attachment; filename=referrals-{today}.csv"
    assert response.headers["Cache-Control"] == "no-store"
    rows = _table(response)
    assert ",".join(rows[0]) == HEADER_DASHBOARD
    assert len(rows) == 23
    assert {row["Need"] for row in rows} == {f"Need {n:02d}" for n in range(23)}
    first = rows[0]
    assert first["Member"] == "Maria Lopez"
    assert first["Service"] == "Emergency food boxes"
    assert first["Agency"] == "Northside Food Pantry"
    assert (first["Urgency"], first["Status"], first["Sent"]) == ("urgent", "sent", today)
    assert first["Answer due"] and first["Answered"] == "" and first["Outcome"] == ""
    (logged,) = _exports(db, network.coordinator_a)
    assert logged.object_type == "referral" and logged.object_id is None
    assert logged.detail == {
        "via": "csv:dashboard",
        "filters": {"view": "all", "q": "", "mine": False, "urgency": None},
        "rows": 23,
    }


def test_the_dashboard_filters_carry_into_the_download(
    db, network, member, create_member, signed_in
):
    refer(db, network, member, need="Groceries", urgency="urgent")
    other = create_member(first_name="Tom", last_name="Reyes")
    refer(db, network, other, need="Rent help", urgency="routine")
    closed = refer(
        db, network, other, service=network.service_b, need="A bed tonight", urgency="routine"
    )
    services.decline(
        db.session.get(Referral, closed.id),
        db.session.merge(network.staff_b),
        reason="no_capacity",
    )
    db.session.commit()
    client = signed_in(network.coordinator_a)
    page = text_of(client.get("/referrals?view=waiting&q=reyes&page=1"))
    assert 'href="/referrals.csv?view=waiting&amp;q=reyes"' in page
    rows = _table(client.get("/referrals.csv?view=waiting&q=reyes"))
    assert [(r["Member"], r["Need"]) for r in rows] == [("Tom Reyes", "Rent help")]
    urgent = _table(client.get("/referrals.csv?urgency=urgent"))
    assert [r["Need"] for r in urgent] == ["Groceries"]
    closed_rows = _table(client.get("/referrals.csv?view=closed"))
    assert [(r["Status"], r["Agency"]) for r in closed_rows] == [
        ("declined", "Harbor House Shelter")
    ]
    filters = [row.detail["filters"] for row in _exports(db, network.coordinator_a)]
    assert {"view": "waiting", "q": "reyes", "mine": False, "urgency": None} in filters
    # The list's partial (htmx search) carries the link with the same filters.
    partial = text_of(
        client.get("/referrals?q=tom", headers={"HX-Request": "true", "HX-Target": "referral-list"})
    )
    assert 'href="/referrals.csv?q=tom"' in partial


def test_the_inbox_downloads_its_tab_with_only_the_consented_names(
    db, network, create_member, signed_in
):
    first_only = create_member(first_name="Ada", last_name="Quinn", scope=["first_name", "phone"])
    no_names = create_member(first_name="Bo", last_name="Stark", scope=["preferred_language"])
    refer(db, network, first_only, need="Food for the week")
    accepted = refer(db, network, no_names, need="Groceries")
    services.accept(db.session.get(Referral, accepted.id), db.session.merge(network.staff_a))
    db.session.commit()
    client = signed_in(network.staff_a)
    page = text_of(client.get("/inbox?tab=accepted"))
    assert 'href="/inbox.csv?tab=accepted"' in page
    response = client.get("/inbox.csv?tab=accepted")
    text = text_of(response)
    rows = _table(response)
    assert list(rows[0])[3] == "Sent by"
    assert [(r["Member"], r["Need"], r["Status"]) for r in rows] == [
        ("Member (name not shared)", "Groceries", "accepted")
    ]
    assert rows[0]["Sent by"] == "Central Health Home"
    assert rows[0]["Answered"].startswith(deadlines.local_today().isoformat())
    assert "Stark" not in text and "Bo " not in text
    new = _table(client.get("/inbox.csv"))  # the default tab, as the page
    assert [(r["Member"], r["Need"]) for r in new] == [("Ada", "Food for the week")]
    everything = text_of(client.get("/inbox.csv?tab=new")) + text
    for hidden in ("Quinn", "maria", "555", "13202", "Elm St", "HIV"):
        assert hidden not in everything
    details = [row.detail for row in _exports(db, network.staff_a)]
    assert {"via": "csv:inbox", "filters": {"tab": "accepted"}, "rows": 1} in details


def test_formula_cells_are_neutralised_in_the_download(db, network, create_member, signed_in):
    sly = create_member(first_name="=cmd|' /C calc'!A0", last_name="@Lopez")
    refer(db, network, sly, need="+1 more box", confirm_duplicate=True)
    rows = _table(signed_in(network.coordinator_a).get("/referrals.csv"))
    assert rows[0]["Member"] == "'=cmd|' /C calc'!A0 @Lopez"
    assert rows[0]["Need"] == "'+1 more box"
    staff_rows = _table(signed_in(network.staff_a).get("/inbox.csv"))
    assert staff_rows[0]["Member"].startswith("'=cmd")


def test_downloads_hold_only_what_the_viewer_may_see(db, network, member, create_member, signed_in):
    refer(db, network, member, need="Org A's referral")
    b_member = create_member(network.coordinator_b, first_name="Bea")
    services.send_referral(
        db.session.merge(network.coordinator_b),
        b_member,
        db.session.merge(network.service_b),
        need="Org B's referral",
    )
    db.session.commit()

    def needs(person, path):
        return [row["Need"] for row in _table(signed_in(person).get(path))]

    assert needs(network.coordinator_a, "/referrals.csv") == ["Org A's referral"]
    assert needs(network.coordinator_b, "/referrals.csv") == ["Org B's referral"]
    both = ["Org A's referral", "Org B's referral"]
    assert sorted(needs(network.admin, "/referrals.csv")) == both
    assert needs(network.staff_a, "/inbox.csv") == ["Org A's referral"]
    assert needs(network.staff_b, "/inbox.csv") == ["Org B's referral"]
    for person, path in (
        (network.staff_a, "/referrals.csv"),
        (network.coordinator_a, "/inbox.csv"),
        (network.admin, "/inbox.csv"),
    ):
        assert signed_in(person).get(path).status_code == 403, (person.email, path)
    for path in ("/referrals.csv", "/inbox.csv"):
        anonymous = signed_in(None).get(path)
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"].startswith("/login?next=")
    refused = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "export", AuditLog.actor_id == network.staff_a.id)
    ).all()
    assert len(refused) == 1  # the inbox download; the refused one wrote nothing


def test_an_empty_list_downloads_the_header_alone(db, network, signed_in):
    response = signed_in(network.coordinator_b).get("/referrals.csv?view=overdue")
    assert text_of(response).splitlines() == [HEADER_DASHBOARD]
