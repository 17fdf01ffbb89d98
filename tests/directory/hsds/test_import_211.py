"""Real 211 exports kept whole (issue 9): files where exports put them, repeated child ids,
missing organizations, hours only in `original_text`, re-imports that retire what the source
dropped, `--dry-run`, the report and the history of runs.

The fixture `export_211/` is shaped like a 211 HSDS 1.1 export: its CSV files in `data/` under a
datapackage.json that names them bare, every language (phone, contact...) of a service under
the service's id, services of two organizations the export lacks.
"""

import csv
import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.hsds.importing import import_path
from directory.hsds.importing.detect import locate_resource
from directory.hsds.importing.values import IdMapper
from directory.models import ImportRun, Language, Organization, ReviewFlag, Schedule, Service

DATA = Path(__file__).resolve().parents[2] / "data" / "import"
EXPORT = DATA / "export_211"
DATASET = "county-211-export"
ids = IdMapper(DATASET)


def _service(db, source_id: str) -> Service:
    return db.session.get(Service, ids("service", source_id))


def _import(db, path, **options):
    report = import_path(path, **options)
    db.session.commit()
    return report


def _rows_in_every_table(db) -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def _found(**query) -> list[str]:
    from directory import search
    from directory.search import SearchQuery

    return sorted(hit.service.name for hit in search.search(SearchQuery(**query)).hits)


def _zip(folder: Path, archive: Path, top: str | None) -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                zipped.write(path, f"{top}/{name}" if top else name)
    return archive


def _copy(tmp_path: Path) -> Path:
    package = tmp_path / "county"
    shutil.copytree(EXPORT, package)
    return package


def _drop_rows(path: Path, first_cell: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(x for x in lines if not x.startswith(f"{first_cell},")) + "\n")


# --- finding the files --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["folder", "zip", "zip without a top folder", "descriptor"])
def test_a_211_export_with_its_csv_files_in_data_imports_whole(db, tmp_path, shape):
    path = {
        "folder": lambda: EXPORT,
        "zip": lambda: _zip(EXPORT, tmp_path / "export.zip", "county-211"),
        "zip without a top folder": lambda: _zip(EXPORT, tmp_path / "export.zip", None),
        "descriptor": lambda: EXPORT / "datapackage.json",
    }[shape]()

    report = _import(db, path)

    assert (report.format, report.dataset) == ("HSDS 1.x CSV", DATASET)
    services = report.count("service")
    assert (services.created, services.rejected, services.placeholder) == (10, 0, 3)
    assert report.rejected == [] and report.errors == []
    for table, created in {"organization": 5, "location": 4, "service_at_location": 9,
                           "phone": 5, "contact": 2, "accessibility": 2, "schedule": 13,
                           "language": 7, "attribute": 5, "address": 4}.items():  # fmt: skip
        assert report.count(table).created == created, table
    # datapackage.json lists holiday_schedules.csv, which the export does not ship.
    missing = [w for w in report.warnings if w.origin.file == "datapackage.json"]
    assert [(w.table, w.origin.where) for w in missing] == [
        ("holiday_schedule", "resource 'holiday_schedules'")
    ]
    assert "holiday_schedules.csv is not beside datapackage.json" in missing[0].reason


def test_resources_are_looked_for_beside_the_descriptor_then_in_data_then_one_level_down(
    tmp_path,
):
    (tmp_path / "data").mkdir()
    (tmp_path / "2024-export").mkdir()
    (tmp_path / "services.csv").write_text("id\n")
    (tmp_path / "data" / "services.csv").write_text("id\n")
    (tmp_path / "data" / "phones.csv").write_text("id\n")
    (tmp_path / "2024-export" / "Locations.CSV").write_text("id\n")

    assert locate_resource(tmp_path, "services.csv") == (tmp_path / "services.csv").resolve()
    assert locate_resource(tmp_path, "phones.csv") == (tmp_path / "data/phones.csv").resolve()
    assert locate_resource(tmp_path, "data/phones.csv") == (tmp_path / "data/phones.csv").resolve()
    assert (
        locate_resource(tmp_path, "tables/phones.csv") == (tmp_path / "data/phones.csv").resolve()
    )
    assert (
        locate_resource(tmp_path, "locations.csv")
        == (tmp_path / "2024-export/Locations.CSV").resolve()
    )
    assert locate_resource(tmp_path, "contacts.csv") is None
    (tmp_path.parent / "outside.csv").write_text("id\n")
    assert locate_resource(tmp_path, "../outside.csv") is None  # never outside the package


def test_an_export_folder_without_a_descriptor_is_read_from_its_data_folder(db, tmp_path):
    package = _copy(tmp_path)
    (package / "datapackage.json").unlink()
    (package / "README.txt").write_text("Exported from our 211 system.")

    report = _import(db, package)

    assert report.dataset == "county"  # the export's own folder, not "data"
    assert report.count("service").created == 10


def test_a_missing_services_file_is_an_error_and_the_rest_imports(db, tmp_path):
    package = _copy(tmp_path)
    (package / "data" / "services.csv").unlink()

    report = _import(db, package)

    assert [(e.table, e.reason) for e in report.errors] == [
        ("service", "services.csv is not beside datapackage.json, in data/ or one folder down: "
                    "no services imported")
    ]  # fmt: skip
    assert report.count("organization").created == 3
    assert db.session.scalar(select(func.count()).select_from(Service)) == 0


# --- repeated child ids -------------------------------------------------------------------------


def test_child_rows_sharing_an_id_are_each_kept_and_counted_as_repaired(db):
    report = _import(db, EXPORT)

    pantry = _service(db, "1001")
    assert sorted((lang.name, lang.code) for lang in pantry.languages) == [
        ("English", "en"),
        ("Haitian Creole", "ht"),
        ("Spanish", "es"),
    ]
    assert sorted(p.number for p in pantry.phones) == ["(315) 555-0101", "(315) 555-0102"]
    assert sorted(c.name for c in pantry.contacts) == ["Ana Ruiz", "Ben Ode"]
    assert sorted(s.byday for s in pantry.schedules) == ["MO", "TU", "WE"]
    location = pantry.service_at_locations[0].location
    assert sorted(a.description for a in location.accessibility) == [
        "Accessible restroom",
        "Wheelchair accessible",
    ]
    # The rows after the first of each shared id; the same row twice is one record, not two.
    repaired = {t: c.repaired for t, c in report.counts.items() if c.repaired}
    assert repaired == {"language": 3, "phone": 2, "schedule": 2, "contact": 1, "accessibility": 1}
    assert len(report.repaired) == 9
    soup = _service(db, "1006")
    assert [lang.code for lang in soup.languages] == ["es"]
    assert any(w.reason == "the same row as row 7; kept once" for w in report.warnings)
    # Languages reach search: everyone who offers Spanish or Haitian Creole is found.
    from directory import search

    search.reindex()
    assert _found(languages=("es",)) == [
        "Eviction Defense Clinic",
        "Harbor Food Pantry",
        "Riverside Soup Kitchen",
    ]
    assert _found(languages=("ht",)) == ["Eviction Defense Clinic", "Harbor Food Pantry"]


def test_repaired_ids_are_stable_so_a_reimport_changes_nothing(db):
    first = _import(db, EXPORT)
    languages = set(db.session.scalars(select(Language.id)))

    second = _import(db, EXPORT)

    assert set(db.session.scalars(select(Language.id))) == languages
    assert not second.changed()
    for table, counts in second.counts.items():
        assert counts.unchanged == first.counts[table].created, table
        assert counts.repaired == first.counts[table].repaired, table
    assert second.count("service").placeholder == 3


def test_a_repeated_id_in_a_3_0_csv_child_table_is_repaired_too(db, tmp_path, shared_data):
    package = tmp_path / "csv"
    shutil.copytree(shared_data / "hsds/spec-3.0/examples/csv", package)
    (package / "datapackage.json").unlink()  # a link to the spec's own, outside the copy
    with (package / "languages.csv").open(encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    rows.append({**rows[0], "name": "Welsh", "code": "cy"})  # the same id, another language
    with (package / "languages.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    report = _import(db, package)

    assert report.count("language").created == 2
    assert report.count("language").repaired == 1
    assert "Welsh" in set(db.session.scalars(select(Language.name)))


# --- missing organizations ----------------------------------------------------------------------


def test_services_of_a_missing_organization_are_kept_under_a_flagged_placeholder(db):
    report = _import(db, EXPORT)

    soup, closet, tax = (_service(db, s) for s in ("1006", "1007", "1008"))
    assert soup.organization_id == closet.organization_id == ids("organization", "104")
    assert soup.organization.name == "Riverside Community Center"  # from the service's location
    assert soup.organization.dataset == DATASET
    assert tax.organization.name == "Organization 105 (not in the export)"
    # The export's location of organization 104 links to the placeholder too.
    assert soup.service_at_locations[0].location.organization_id == soup.organization_id
    flags = db.session.scalars(select(ReviewFlag).order_by(ReviewFlag.detail)).all()
    assert [(f.record_table, f.reason, f.resolved_at) for f in flags] == [
        ("organization", "placeholder_organization", None)
    ] * 2
    assert {f.record_id for f in flags} == {soup.organization_id, tax.organization_id}
    assert "Organization 104 is not in the export" in flags[0].detail
    assert "'Riverside Soup Kitchen', 'Riverside Clothing Closet'" in flags[0].detail
    kept = sorted(i.origin.source_id for i in report.kept)
    assert kept == ["1006", "1007", "1008"]


def test_a_placeholder_is_made_once_and_filled_in_when_the_organization_arrives(db, tmp_path):
    package = _copy(tmp_path)
    _import(db, package)
    _import(db, package)
    assert db.session.scalar(select(func.count()).select_from(ReviewFlag)) == 2

    with (package / "data" / "organizations.csv").open("a", encoding="utf-8") as stream:
        stream.write("104,Riverside Neighbors Inc.,,Meals and clothes,,,,,,\n")
    report = _import(db, package)

    assert report.count("service").placeholder == 1  # 1008 only
    riverside = db.session.get(Organization, ids("organization", "104"))
    assert riverside.name == "Riverside Neighbors Inc."
    flag = db.session.scalars(select(ReviewFlag).where(ReviewFlag.record_id == riverside.id)).one()
    assert flag.resolved_at is not None and flag.resolved_by == "import"


# --- hours in original_text ---------------------------------------------------------------------


def test_hours_only_in_original_text_are_read_or_kept_as_plain_text(db, client):
    report = _import(db, EXPORT)

    def weekly(source_id):
        service = _service(db, source_id)
        return sorted((s.byday, s.opens_at, s.closes_at) for s in service.schedules)

    assert weekly("1002") == [("MO,TU,WE,TH,FR", "09:00", "17:00")]  # "9:00am-5:00pm, Mon-Fri"
    assert weekly("1003") == [("MO,TU,WE,TH", "08:30", "16:30")]  # "Mon-Thu 8:30-4:30"
    assert weekly("1004") == [("MO,TU,WE,TH,FR", "08:00", "16:30")]  # "; Closed Sat/Sun"
    assert weekly("1006") == [("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59")]  # "24 hours"
    assert weekly("1007") == [("TU,TH", "10:00", "14:00")]  # "Tues & Thurs 10-2"
    assert weekly("1009") == [
        ("MO,TU,WE,TH,FR", "09:00", "12:00"),
        ("MO,TU,WE,TH,FR", "13:00", "17:00"),
    ]
    # One row per weekday, each with the week's text: each row keeps its own day.
    assert weekly("1010") == [("MO", "09:00", "17:00"), ("WE", "09:00", "17:00")]
    prenatal = _service(db, "1005")
    [note] = prenatal.schedules
    assert (note.description, note.byday, note.freq, note.opens_at) == (
        "Call for an appointment <after> 3 pm",
        None,
        None,
        None,
    )
    assert note.service_id == prenatal.id
    assert any("kept as plain-text hours" in w.reason for w in report.warnings)

    html = client.get(f"/services/{prenatal.id}").get_data(as_text=True)
    hours = html.split('id="hours-heading"')[1].split("</section>")[0]
    assert '<p class="hours-text">Call for an appointment &lt;after&gt; 3 pm</p>' in hours
    assert "<after>" not in html
    html = client.get(f"/services/{_service(db, '1003').id}").get_data(as_text=True)
    assert "8:30 am – 4:30 pm" in html


# --- re-imports ---------------------------------------------------------------------------------


def test_a_reimport_retires_services_the_export_no_longer_lists(db, tmp_path):
    package = _copy(tmp_path)
    _import(db, package)
    coats = _service(db, "1009")
    _drop_rows(package / "data" / "services.csv", "1009")

    report = _import(db, package)

    assert report.count("service").retired == 1
    assert [(i.origin.source_id, i.reason) for i in report.retired] == [
        (str(coats.id), "'Winter Coats' is no longer in the export: now inactive")
    ]
    db.session.expire_all()
    assert _service(db, "1009").status == "inactive"
    assert db.session.scalar(select(func.count()).select_from(Service)) == 10  # none deleted
    # Another dataset's services are not this export's to retire.
    other = _import(db, DATA / "legacy_messy")
    assert other.count("service").retired == 0
    assert _service(db, "1001").status == "active"
    # Listed again: offered again.
    shutil.copy(EXPORT / "data" / "services.csv", package / "data" / "services.csv")
    again = _import(db, package)
    assert again.count("service").updated == 1
    assert _service(db, "1009").status == "active"


# --- the command: dry run, report, history ------------------------------------------------------


def test_a_dry_run_reports_everything_and_writes_nothing(db, runner, tmp_path):
    _import(db, DATA / "legacy_messy")  # something stored already, to compare
    before = _rows_in_every_table(db)
    db.session.remove()
    report_file = tmp_path / "dry.csv"

    result = runner.invoke(
        args=["directory", "import-hsds", str(EXPORT), "--dry-run", "--report", str(report_file)]
    )

    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written" in result.stdout
    service_line = next(line for line in result.stdout.splitlines() if line.startswith("service "))
    assert service_line.split() == ["service", "10", "0", "0", "0", "3", "0", "0", "0"]
    assert "Search index" not in result.output
    assert _rows_in_every_table(db) == before  # ImportRun and ReviewFlag included
    assert report_file.is_file()


def test_the_command_prints_reasons_once_with_two_examples_and_writes_every_row_to_csv(
    db, runner, app, tmp_path
):
    package = _copy(tmp_path)
    with (package / "data" / "phones.csv").open("a", encoding="utf-8") as stream:
        for n in range(5):  # five phones of services the export does not have
            stream.write(f"90{n},,99{n},,,,315-555-09{n}0,,voice,,\n")

    result = runner.invoke(args=["directory", "import-hsds", str(package)])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Rejected: 5" in out
    assert "5  phone: its service (id …) is not in the package or the directory" in out
    examples = [x for x in out.splitlines() if "e.g. phones.csv" in x and "(id 99" in x]
    assert len(examples) == 2  # two examples, not five lines
    assert "Ids repaired: 9" in out and "Kept under a placeholder organization: 3" in out
    path = Path(out.split("Full report (")[1].split("): ")[1].splitlines()[0])
    assert path.parent == Path(app.config["IMPORT_REPORT_DIR"])
    with path.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    kinds = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    assert kinds == {"rejected": 5, "placeholder": 3, "repaired": 9, "warning": 3}
    assert {
        "kind": "rejected",
        "table": "phone",
        "file": "phones.csv",
        "where": "row 7",
        "source_id": "900",
        "reason": "its service (id 990) is not in the package or the directory",
    } in rows


def test_each_run_is_recorded_with_its_counts_and_report(db, runner, tmp_path):
    result = runner.invoke(args=["directory", "import-hsds", str(EXPORT)])
    assert result.exit_code == 0, result.output

    run = db.session.scalars(select(ImportRun)).one()
    assert (run.status, run.started_by, run.source, run.dataset) == (
        "succeeded",
        "cli",
        str(EXPORT),
        DATASET,
    )
    assert run.counts["service"]["created"] == 10
    assert run.counts["service"]["placeholder"] == 3
    assert run.counts["language"]["repaired"] == 3
    assert Path(run.report_path).is_file() and run.finished_at >= run.started_at
    assert f"Import recorded as run {run.id}" in result.stdout
    flags = db.session.scalars(select(ReviewFlag)).all()
    assert {f.import_run_id for f in flags} == {run.id}

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "services.json").write_text("{")
    db.session.remove()
    result = runner.invoke(args=["directory", "import-hsds", str(broken)])
    assert result.exit_code != 0 and "Nothing was imported." in result.output
    failed = db.session.scalars(select(ImportRun).where(ImportRun.status == "failed")).one()
    assert "services.json is not valid JSON" in failed.message
    assert failed.counts == {} and failed.report_path is None


def test_a_generated_211_export_keeps_at_least_98_percent_of_its_services(db, tmp_path):
    spec = importlib.util.spec_from_file_location("make_package", DATA / "make_package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    package = module.write_211_export(tmp_path / "generated", 200)

    report = _import(db, package)

    services = report.count("service")
    assert services.created / (services.created + services.rejected) >= 0.98
    assert (services.created, services.placeholder) == (200, 20)
    assert report.count("language").repaired == 200 + 66  # all but the first of each service
    plain = db.session.scalar(
        select(func.count()).select_from(Schedule).where(Schedule.description == "Call for hours")
    )
    assert plain == 1  # service 150
    flagged = db.session.scalar(
        select(func.count())
        .select_from(ReviewFlag)
        .where(ReviewFlag.reason == "placeholder_organization")
    )
    assert flagged == 5
