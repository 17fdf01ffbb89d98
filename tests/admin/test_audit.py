"""The audit log page for network admins: filters, the htmx results region, the CSV download."""

import csv
import io
from datetime import date, timedelta

from tests.referrals.pages import accept, field_error, htmx_headers, text_of


def test_audit_page_filters(db, network, member, referral, signed_in):
    accept(db, network, referral)
    admin = signed_in(network.admin)
    everything = text_of(admin.get("/admin/audit"))
    assert "ana@central.example.org" in everything and "dev@pantry.example.org" in everything
    accepts = admin.get("/admin/audit?action=accept", headers=htmx_headers("audit-results"))
    html = text_of(accepts)
    assert html.lstrip().startswith('<div id="audit-results">')
    assert "1 entry." in html and "dev@pantry.example.org" in html
    assert "ana@central.example.org" not in html
    by_actor = text_of(admin.get("/admin/audit?actor=ANA@central.example.org&object_type=consent"))
    assert "1 entry." in by_actor
    by_object = text_of(admin.get(f"/admin/audit?object_id={referral.id}"))
    assert "2 entries." in by_object  # sent, accepted
    today = date.today()
    in_range = text_of(admin.get(f"/admin/audit?since={today - timedelta(days=1)}&until={today}"))
    assert "dev@pantry.example.org" in in_range
    future = text_of(admin.get(f"/admin/audit?since={today + timedelta(days=2)}"))
    assert "No entries." in future
    bad = admin.get("/admin/audit?since=yesterday&actor=nobody@example.org&object_id=42")
    assert bad.status_code == 400
    assert "Enter a date as YYYY-MM-DD" in field_error(text_of(bad), "since")
    assert "No account with that email" in field_error(text_of(bad), "actor")
    assert "Paste a record id" in field_error(text_of(bad), "object_id")


def test_audit_csv_downloads_the_filtered_rows(db, network, member, referral, signed_in):
    accept(db, network, referral)
    response = signed_in(network.admin).get(f"/admin/audit.csv?object_id={referral.id}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text_of(response))))
    assert [row["action"] for row in rows] == ["accept", "send"]
    assert {row["object_id"] for row in rows} == {str(referral.id)}
    assert rows[0]["actor"] == "dev@pantry.example.org"
    bad = signed_in(network.admin).get("/admin/audit.csv?until=never")
    assert bad.status_code == 400
