"""/admin/imports: the history of directory imports and the records they flagged, for network
admins only."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from directory.models import ImportRun, ReviewFlag

EXPORT = Path(__file__).resolve().parents[1] / "data" / "import" / "export_211"


@pytest.fixture
def imported(db, runner):
    """The 211 fixture export imported by the command: one run, two placeholder flags."""
    result = runner.invoke(args=["directory", "import-hsds", str(EXPORT)])
    assert result.exit_code == 0, result.output
    db.session.remove()
    return db.session.scalars(select(ImportRun)).one()


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("coordinator", 403), ("agency_staff", 403), ("agency_admin", 403)],
)
def test_only_network_admins_open_the_imports_page(
    client, login, create_user, imported, role, status
):
    login(client, create_user(role=role))

    assert client.get("/admin/imports").status_code == status
    with client.get(f"/admin/imports/{imported.id}/report.csv") as response:
        assert response.status_code == status


def test_anonymous_people_are_sent_to_sign_in(client, imported):
    for path in ("/admin/imports", f"/admin/imports/{imported.id}/report.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login?next=" in response.headers["Location"]
    flag_id = imported.id  # any id: the check comes first
    assert client.post(f"/admin/review/{flag_id}/resolve").status_code == 302


def test_admins_see_each_run_with_its_counts_and_download_its_report(
    client, login, dummy_admin, imported
):
    login(client, dummy_admin)

    html = client.get("/admin/imports").get_data(as_text=True)

    history = html.split('id="runs-heading"')[1]
    assert "county-211-export" in history and "succeeded" in history and "cli" in history
    assert "10 created, 3 placeholder" in history
    assert f'href="/admin/imports/{imported.id}/report.csv"' in history
    assert '<a href="/admin/imports">Imports</a>' in html or "/admin/imports" in html
    with client.get(f"/admin/imports/{imported.id}/report.csv") as report:
        assert report.status_code == 200 and report.mimetype == "text/csv"
        assert report.get_data(as_text=True).startswith("kind,table,file,where,source_id,reason")


def test_the_history_is_newest_first_and_paginated(db, client, login, dummy_admin):
    from directory.hsds.importing import runs

    for n in range(25):
        runs.record_failed_run(f"/exports/{n:02d}", "cli", "broken")
        db.session.commit()
    login(client, dummy_admin)

    first = client.get("/admin/imports").get_data(as_text=True)
    second = client.get("/admin/imports?page=2").get_data(as_text=True)

    sources = re.findall(r"/exports/(\d\d)", first)
    assert len(sources) == 20 and "Page 1 of 2" in first
    assert set(re.findall(r"/exports/(\d\d)", second)) | set(sources) == {
        f"{n:02d}" for n in range(25)
    }


def test_open_flags_are_listed_and_resolved_with_a_post(db, client, login, create_user, imported):
    login(client, create_user("nia@network.example.org", role="admin"))
    html = client.get("/admin/imports").get_data(as_text=True)
    review = html.split('id="review-heading"')[1].split('id="runs-heading"')[0]
    assert "To review (2)" in html
    assert "Riverside Community Center" in review
    assert "Organization 105 (not in the export)" in review
    flag = db.session.scalars(select(ReviewFlag).order_by(ReviewFlag.detail)).first()

    response = client.post(f"/admin/review/{flag.id}/resolve")

    assert response.status_code == 303
    db.session.expire_all()
    flag = db.session.get(ReviewFlag, flag.id)
    assert flag.resolved_at is not None and flag.resolved_by == "nia@network.example.org"
    html = client.get("/admin/imports").get_data(as_text=True)
    assert "To review (1)" in html and "Marked as checked." in html


def test_resolving_needs_the_csrf_token(make_app, login, dummy_admin, imported, db):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" [^>]*value="([^"]+)"', page)[1]
    client.post(
        "/login",
        data={"email": dummy_admin.email, "password": "correct horse battery staple",
              "csrf_token": token},
    )  # fmt: skip
    flag = db.session.scalars(select(ReviewFlag)).first()

    assert client.post(f"/admin/review/{flag.id}/resolve").status_code == 400
    html = client.get("/admin/imports").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    response = client.post(f"/admin/review/{flag.id}/resolve", data={"csrf_token": token})
    assert response.status_code == 303
