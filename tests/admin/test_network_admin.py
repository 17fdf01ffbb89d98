"""Network administration in the browser: an export uploaded, imported by the job worker (never
in the request) with its progress and report; the network's organizations and users; who may.

The worker is the real command (`flask jobs work --once`) on the test's database.
"""

import html
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from accounts.models import NetworkOrganization
from admin import import_jobs
from directory.models import ImportRun, ReviewFlag
from extensions import utcnow
from tests.referrals.matrix import by_role, statuses_by_role
from tests.referrals.pages import field_error as escaped_field_error
from tests.referrals.pages import text_of
from web import jobs


def field_error(page: str, name: str) -> str:
    return html.unescape(escaped_field_error(page, name))


DATA = Path(__file__).resolve().parents[1] / "data" / "import"

ADMIN_ONLY = by_role(403, 403, 403, 403, 403, 200, 302)
# method, path, form: every page of this feature ("{job}" and "{org}" are filled in).
PAGES = {
    "upload form": ("GET", "/admin/imports/upload", None),
    "upload": ("POST", "/admin/imports/upload", {"dataset": "x"}),
    "job page": ("GET", "/admin/jobs/{job}", None),
    "organizations": ("GET", "/admin/organizations", None),
    "new organization form": ("GET", "/admin/organizations/new", None),
    "new organization": ("POST", "/admin/organizations/new", {"name": "X", "kind": "agency"}),
    "edit organization form": ("GET", "/admin/organizations/{org}/edit", None),
    "edit organization": ("POST", "/admin/organizations/{org}/edit", {"name": ""}),
    "users": ("GET", "/admin/users", None),
}


def zipped(folder: Path) -> bytes:
    """The folder's files in a .zip, as an export is sent."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return buffer.getvalue()


def _upload(client, data: bytes, name: str = "export_211.zip", dataset: str = ""):
    return client.post(
        "/admin/imports/upload",
        data={"export": (io.BytesIO(data), name), "dataset": dataset},
        content_type="multipart/form-data",
    )


def _jobs(db) -> list[jobs.Job]:
    db.session.expire_all()
    return db.session.scalars(select(jobs.Job).order_by(jobs.Job.created_at)).all()


def _work(runner) -> str:
    result = runner.invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def admin_client(network, signed_in):
    return signed_in(network.admin)


# -- an uploaded import ------------------------------------------------------------------------


def test_an_upload_is_imported_by_the_worker_with_its_progress_and_report(
    db, network, admin_client, runner
):
    response = _upload(admin_client, zipped(DATA / "export_211"))
    assert response.status_code == 303, text_of(response)
    (job,) = _jobs(db)
    assert response.headers["Location"] == f"/admin/jobs/{job.id}"
    # The request only stored the upload: nothing is imported yet.
    assert (job.status, job.kind, job.file_name) == ("queued", "import-hsds", "export_211.zip")
    assert db.session.scalars(select(ImportRun)).all() == []

    waiting = text_of(admin_client.get(f"/admin/jobs/{job.id}"))
    assert "Waiting for a worker" in waiting
    assert '<progress id="job-progress"' in waiting
    assert f'hx-get="/admin/jobs/{job.id}" hx-trigger="every 2s"' in waiting
    assert f'<a href="/admin/jobs/{job.id}">Refresh</a>' in waiting

    # What the page says while the worker imports: read in the middle of the import's writes.
    seen: list[str] = []

    def look_at_the_page(conn, cursor, statement, *args):
        if not seen and statement.startswith("INSERT INTO service "):
            with db.engine.connect() as reader:
                row = reader.execute(
                    text("SELECT status, progress_done, progress_message FROM job")
                ).one()
            seen.append(f"{row.status} {row.progress_done} {row.progress_message}")

    event.listen(db.engine, "before_cursor_execute", look_at_the_page)
    try:
        output = _work(runner)
    finally:
        event.remove(db.engine, "before_cursor_execute", look_at_the_page)
    assert f"job {job.id} (import-hsds): done" in output
    # Running, past the reading of the files, before the end (SQLite: the reports sent while
    # the import writes wait for its commit, so the page shows the reading's).
    status, done, message = seen[0].split(" ", 2)
    assert status == "running" and 1 <= int(done) < import_jobs.STEPS, seen
    assert message.startswith("read " if db.engine.dialect.name == "sqlite" else "organization")

    (job,) = _jobs(db)
    assert job.status == "done" and job.attempts == 1
    assert job.progress_done == job.progress_total > 1
    run = db.session.scalars(select(ImportRun)).one()
    assert (run.status, run.source, run.started_by) == (
        "succeeded",
        "upload: export_211.zip",
        network.admin.email,
    )
    page = text_of(admin_client.get(f"/admin/jobs/{job.id}"))
    assert "Imported" in page and "every 2s" not in page  # no more polling
    assert f'max="{job.progress_total}" value="{job.progress_total}"' in page
    assert "(100%)" in page
    assert "Dataset <strong>county-211-export</strong>" in page
    assert '<th scope="row">service</th><td>10</td>' in page  # 10 services created
    flags = db.session.scalars(select(ReviewFlag)).all()
    assert len(flags) == 2  # the two placeholder organizations
    assert "2 records to review</a>" in page
    assert f'href="/admin/imports/{run.id}/report.csv"' in page
    imports = text_of(admin_client.get("/admin/imports"))
    assert "Placeholder organization" in imports and "upload: export_211.zip" in imports
    assert 'href="/admin/imports/upload"' in imports
    # The search follows what the worker imported (the change feed), with no rebuild asked.
    assert "Rent Assistance" in text_of(admin_client.get("/search?q=back+rent"))


def test_a_point_far_from_its_zip_code_is_up_for_review_after_an_upload(
    db, network, admin_client, runner
):
    assert _upload(admin_client, zipped(DATA / "legacy_values"), "values.zip").status_code == 303
    _work(runner)
    (job,) = _jobs(db)
    assert job.status == "done", job.error
    review = text_of(admin_client.get("/admin/imports")).split('id="runs-heading"')[0]
    assert "Far from zip" in review and "Westside Site" in review


def test_an_export_that_fails_is_reported_and_its_upload_kept(db, network, admin_client, runner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no data here")
    assert _upload(admin_client, buffer.getvalue(), "empty.zip").status_code == 303
    _work(runner)

    (job,) = _jobs(db)
    assert job.status == "failed" and "Nothing was imported" in job.error
    assert job.file_data == buffer.getvalue()  # the upload is not lost
    run = db.session.scalars(select(ImportRun)).one()
    assert run.status == "failed" and run.finished_at is not None
    page = text_of(admin_client.get(f"/admin/jobs/{job.id}"))
    assert "The import failed" in page and "Nothing was imported" in page


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"name,phone\nA,1\n", "services.csv", "This is not a .zip file."),
        (b"", "", "Choose the export's .zip file."),
    ],
)
def test_a_bad_upload_is_a_form_error_and_queues_nothing(
    db, network, admin_client, data, name, message
):
    response = _upload(admin_client, data, name)
    assert response.status_code == 400
    assert message in field_error(text_of(response), "export")
    assert _jobs(db) == []


def test_an_upload_too_big_is_a_form_error(db, network, admin_client, app):
    app.config["IMPORT_UPLOAD_MAX_BYTES"] = 1000
    app.config["MAX_CONTENT_LENGTH"] = 10_000  # other requests: smaller still
    response = _upload(admin_client, b"PK\x03\x04" + b"x" * 1500)
    assert response.status_code == 400
    assert "the most an upload may be is 0.0 MB" in field_error(text_of(response), "export")
    assert _jobs(db) == []
    # Far bigger than allowed: refused before it is read (413), nothing queued either.
    with _upload(admin_client, b"PK\x03\x04" + b"x" * 100_000) as response:
        assert response.status_code == 413
    assert _jobs(db) == []


def test_a_job_whose_worker_died_is_claimed_again_then_given_up(db, app):
    job = jobs.enqueue("no-such-kind")
    db.session.commit()
    first = jobs.claim_next("host-a:1")
    assert first.id == job.id and first.attempts == 1
    assert jobs.claim_next("host-b:2") is None  # leased to host a
    later = utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    for attempt in range(2, app.config["JOB_MAX_ATTEMPTS"] + 1):
        again = jobs.claim_next("host-b:2", now=later)
        assert again.attempts == attempt and again.lease_owner == "host-b:2"
        later += timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    assert jobs.claim_next("host-c:3", now=later) is None
    (job,) = _jobs(db)
    assert job.status == "failed" and "it is not tried again" in job.error


def test_a_worker_that_lost_its_lease_keeps_nothing(db, network):
    """Its lease ran out (no progress for JOB_LEASE_SECONDS) and another worker took the job:
    what the first one did is undone, and the job is the other's."""

    def slow_rename(job, progress):
        agency = db.session.get(NetworkOrganization, network.agency_b.id)
        agency.name = "Renamed by a worker that lost its lease"
        with db.engine.begin() as other_worker:  # claims the job meanwhile
            other_worker.execute(
                text("UPDATE job SET lease_owner = 'host-b:2', attempts = 2 WHERE id = :id"),
                {"id": job.id.hex if db.engine.dialect.name == "sqlite" else job.id},
            )
        db.session.flush()
        return {}

    jobs.register("test-slow-rename", slow_rename)
    jobs.enqueue("test-slow-rename")
    db.session.commit()
    jobs.work_once("host-a:1")
    (job,) = _jobs(db)
    assert (job.status, job.lease_owner, job.attempts) == ("running", "host-b:2", 2)
    assert _org(db, "Harbor House Shelter") is not None


def test_a_job_of_an_unknown_kind_fails_with_the_reason(db, runner):
    jobs.enqueue("no-such-kind")
    db.session.commit()
    _work(runner)
    (job,) = _jobs(db)
    assert job.status == "failed" and "No worker knows jobs of kind 'no-such-kind'" in job.error


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_racing_claim_a_job_once(db, on_two_hosts, hold_threads_before):
    jobs.enqueue("no-such-kind")
    db.session.commit()
    # Both have read the queue before either claims: the real race.
    hold_threads_before(lambda sql: sql.startswith("SELECT job.") and "FOR UPDATE" in sql)
    owners = iter(["host-a:1", "host-b:2"])
    claimed, errors = on_two_hosts(lambda: jobs.claim_next(next(owners)))
    assert errors == []
    assert len([job for job in claimed if job is not None]) == 1
    (job,) = _jobs(db)
    assert job.attempts == 1 and job.status == "running"


# -- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_only_network_admins_use_the_network_pages(db, network, signed_in, name):
    method, path, form = PAGES[name]
    job = jobs.enqueue("no-such-kind")
    db.session.commit()
    url = path.format(job=job.id, org=network.agency_b.id)
    got = statuses_by_role(signed_in, network.people, method, url, form)
    if method == "POST":
        assert got["admin"] in (303, 400, 422)  # its answer is another test's business
        got["admin"] = ADMIN_ONLY["admin"]
    assert got == ADMIN_ONLY
    db.session.expire_all()
    assert db.session.get(NetworkOrganization, network.agency_b.id).name == "Harbor House Shelter"


def test_the_admin_navigation_links_the_new_pages(network, admin_client):
    page = text_of(admin_client.get("/admin/organizations"))
    for path in ("/admin/organizations", "/admin/users", "/admin/imports"):
        assert f'href="{path}"' in page


# -- organizations -----------------------------------------------------------------------------


def _org(db, name: str) -> NetworkOrganization | None:
    db.session.expire_all()
    return db.session.scalar(select(NetworkOrganization).where(NetworkOrganization.name == name))


def test_an_admin_adds_an_agency_linked_to_the_listing_found_by_search(db, network, admin_client):
    found = admin_client.post(
        "/admin/organizations/new",
        data={"name": "Legal Clinic", "kind": "agency", "directory_search": "legal", "find": "1"},
    )
    assert found.status_code == 200
    page = text_of(found)
    listing = network.service_outside.organization_id
    assert f'value="{listing}"' in page and "Unlisted Legal Clinic" in page
    assert _org(db, "Legal Clinic") is None  # searching saves nothing

    saved = admin_client.post(
        "/admin/organizations/new",
        data={"name": "Legal Clinic", "kind": "agency", "directory_organization_id": listing},
    )
    assert saved.status_code == 303
    clinic = _org(db, "Legal Clinic")
    assert clinic.kind == "agency" and clinic.directory_organization_id == listing
    listed = text_of(admin_client.get("/admin/organizations?kind=agency"))
    assert "Legal Clinic" in listed and "Central Health Home" not in listed


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": " ", "kind": "agency"}, "name", "Enter the organization's name."),
        ({"name": "X", "kind": "charity"}, "kind", "Unknown kind 'charity'"),
        (
            {"name": "Central Health Home", "kind": "coordination"},
            "name",
            "is already in the network",
        ),
    ],
)
def test_a_new_organization_is_checked(db, network, admin_client, form, field, message):
    response = admin_client.post("/admin/organizations/new", data=form)
    assert response.status_code == 422
    assert message in field_error(text_of(response), field)


def test_an_admin_renames_an_organization_and_unlinks_its_listing(db, network, admin_client):
    url = f"/admin/organizations/{network.agency_b.id}/edit"
    form = text_of(admin_client.get(url))
    assert 'value="Harbor House Shelter"' in form and "checked" in form
    response = admin_client.post(
        url, data={"name": "Harbor House", "kind": "agency", "directory_organization_id": ""}
    )
    assert response.status_code == 303
    renamed = _org(db, "Harbor House")
    assert renamed.id == network.agency_b.id and renamed.directory_organization_id is None


def test_an_edit_is_checked(db, network, admin_client):
    url = f"/admin/organizations/{network.agency_b.id}/edit"
    kind = admin_client.post(url, data={"name": "Harbor House Shelter", "kind": "coordination"})
    assert kind.status_code == 422
    assert "the kind can't change" in field_error(text_of(kind), "kind")
    taken = admin_client.post(
        url,
        data={
            "name": "Harbor House Shelter",
            "kind": "agency",
            "directory_organization_id": str(network.agency_a.directory_organization_id),
        },
    )
    assert taken.status_code == 422
    assert "is already linked to 'Northside Food Pantry'" in field_error(
        text_of(taken), "directory_organization_id"
    )
    empty = admin_client.post(url, data={"name": "", "kind": "agency"})
    assert "Enter the organization's name." in field_error(text_of(empty), "name")
    assert _org(db, "Harbor House Shelter").directory_organization_id is not None


# -- users -------------------------------------------------------------------------------------


def test_admins_see_users_across_the_network_filtered(db, network, admin_client):
    everyone = text_of(admin_client.get("/admin/users"))
    for person in network.people.values():
        if person is not None:
            assert person.email in everyone
    pantry = text_of(admin_client.get(f"/admin/users?org={network.agency_a.id}"))
    assert "eve@pantry.example.org" in pantry and "dev@pantry.example.org" in pantry
    assert "ana@central.example.org" not in pantry
    admins = text_of(admin_client.get("/admin/users?role=agency_admin"))
    assert "eve@pantry.example.org" in admins and "dev@pantry.example.org" not in admins
    inactive = text_of(admin_client.get("/admin/users?active=no"))
    assert "No accounts." in inactive
    named = text_of(admin_client.get("/admin/users?q=okafor"))
    assert "ben@central.example.org" in named and "ana@central.example.org" not in named


def test_the_accounts_come_in_pages(db, network):
    from accounts.network import users_page

    first, last = users_page(page=1, per_page=3), users_page(page=3, per_page=3)
    assert (first.total, first.pages) == (7, 3)
    assert [user.email for user in first.items] == [
        "ana@central.example.org",
        "ben@central.example.org",
        "carla@lakeside.example.org",
    ]
    assert [user.email for user in last.items] == ["gia@network.example.org"]
    assert users_page(page=99, per_page=3).page == 3  # past the end: the last page
