"""`flask directory export-hsds DIR`: HSDS 3.0 JSON and CSV that validate, in a stable order."""

import csv
import json
from datetime import datetime
from pathlib import Path

from directory.hsds import serialize as hsds_json
from directory.hsds.export import TABLE_MODELS, export_package
from directory.hsds.importing import import_path
from directory.models import Location, Service
from tests.directory.factories import (
    make_every_hsds_table,
    make_location,
    make_organization,
    make_service,
    name_change,
)
from tests.directory.hsds.schemas import assert_valid

SPEC_DATAPACKAGE = Path(__file__).resolve().parents[4] / "shared/hsds/spec-3.0/datapackage.json"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _small_directory(db) -> dict:
    org = make_organization(db)
    first = make_service(db, organization=org, name="Food Pantry")
    second = make_service(db, organization=org, name="Rent Help", minimum_age=None)
    make_service(db, name="Legal Clinic")
    make_location(db, organization=org, name="Warehouse")  # a site with no service
    db.session.add(name_change(first, "Pantry"))
    db.session.commit()
    return {"org": org.id, "first": first.id, "second": second.id}


def test_export_json_validates_against_the_hsds_package_schemas(db, tmp_path):
    ids = _small_directory(db)

    summary = export_package(tmp_path / "out")

    folder = tmp_path / "out" / "json"
    services = json.loads((folder / "services.json").read_text())
    organizations = json.loads((folder / "organizations.json").read_text())
    taxonomies = json.loads((folder / "taxonomies.json").read_text())
    terms = json.loads((folder / "taxonomy_terms.json").read_text())
    assert_valid("compiled/service_package.json", services)
    assert_valid("compiled/organization_package.json", organizations)
    for taxonomy in taxonomies:
        assert_valid("taxonomy.json", taxonomy)
    for term in terms:
        assert_valid("taxonomy_term.json", term)

    assert len(services) == 3 and len(organizations) == 2 and len(terms) == 3
    assert summary.counts["json/services.json"] == 3
    assert [s["id"] for s in services] == sorted(s["id"] for s in services)
    by_id = {s["id"]: s for s in services}
    first = by_id[str(ids["first"])]
    assert first["metadata"][0]["last_action_date"] == "2024-03-01T15:45:00Z"
    assert first["attributes"][0]["taxonomy_term"]["id"] in {t["id"] for t in terms}
    assert "minimum_age" not in by_id[str(ids["second"])]
    org = next(o for o in organizations if o["id"] == str(ids["org"]))
    assert "services" not in org
    assert sorted(loc.get("name") for loc in org["locations"])[-1] == "Warehouse"
    assert len(org["locations"]) == 3


def test_export_csv_has_every_hsds_table_with_the_descriptor_columns(db, tmp_path):
    ids = _small_directory(db)

    export_package(tmp_path)

    folder = tmp_path / "csv"
    descriptor = json.loads((folder / "datapackage.json").read_text())
    spec = json.loads(SPEC_DATAPACKAGE.read_text())
    assert [r["path"] for r in descriptor["resources"]] == [r["path"] for r in spec["resources"]]
    for resource, spec_resource in zip(descriptor["resources"], spec["resources"], strict=True):
        spec_columns = [f["name"] for f in spec_resource["schema"]["fields"]]
        extensions = list(hsds_json.EXTENSION_FIELDS.get(resource["name"], {}))
        with (folder / resource["path"]).open(encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream))
        assert header == spec_columns + extensions, resource["path"]
        assert [f["name"] for f in resource["schema"]["fields"]] == header

    services = _read_csv(folder / "services.csv")
    assert len(services) == 3
    assert [s["id"] for s in services] == sorted(s["id"] for s in services)
    first = next(s for s in services if s["id"] == str(ids["first"]))
    assert first["organization_id"] == str(ids["org"])
    assert first["referral_capacity"] == "accepting"
    assert first["minimum_age"] == "18"
    assert datetime.fromisoformat(first["last_modified"]).tzinfo is not None
    second = next(s for s in services if s["id"] == str(ids["second"]))
    assert second["minimum_age"] == ""
    locations = _read_csv(folder / "locations.csv")
    assert len(locations) == 4
    assert {loc["latitude"] for loc in locations} == {"43.048122"}
    schedules = _read_csv(folder / "schedules.csv")
    assert {s["tz_name"] for s in schedules} == {"America/New_York"}
    (record,) = _read_csv(folder / "metadata.csv")
    assert record["last_action_date"] == "2024-03-01"  # a date, as the descriptor types it
    terms = _read_csv(folder / "taxonomy_terms.csv")
    assert all(t["taxonomy"].startswith("Test Taxonomy") for t in terms)
    assert _read_csv(folder / "meta_table_descriptions.csv") == []
    assert len(_read_csv(folder / "attributes.csv")) == 3


def test_exporting_twice_gives_the_same_bytes(db, tmp_path):
    _small_directory(db)

    export_package(tmp_path / "a")
    export_package(tmp_path / "b")

    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 4 + 22
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_empty_directory_exports_empty_lists_and_header_rows(db, tmp_path):
    export_package(tmp_path)

    for name in ("services", "organizations", "taxonomies", "taxonomy_terms"):
        assert json.loads((tmp_path / "json" / f"{name}.json").read_text()) == []
    assert (tmp_path / "csv" / "services.csv").read_text().startswith("id,organization_id,")
    assert _read_csv(tmp_path / "csv" / "services.csv") == []


def test_large_export_is_written_in_batches(db, tmp_path):
    org = make_organization(db)
    for n in range(7):
        make_service(db, organization=org, name=f"Service {n}")
    db.session.commit()
    seen = []

    export_package(tmp_path, progress=lambda *step: seen.append(step), batch_size=3)

    services = json.loads((tmp_path / "json" / "services.json").read_text())
    assert len(services) == 7 and len({s["id"] for s in services}) == 7
    assert [s for s in seen if s[0] == "services.json"] == [
        ("services.json", 0, 7),
        ("services.json", 3, 7),
        ("services.json", 6, 7),
        ("services.json", 7, 7),
    ]


def test_cli_exports_and_reports_counts(app, db, runner, tmp_path):
    _small_directory(db)

    result = runner.invoke(args=["directory", "export-hsds", str(tmp_path / "export")])

    assert result.exit_code == 0, result.output
    assert "Wrote 3 services and 2 organizations" in result.output
    assert "services.json: 3/3" in result.output
    assert (tmp_path / "export" / "json" / "services.json").exists()
    assert (tmp_path / "export" / "csv" / "datapackage.json").exists()
    # Reading is all the export does: the database is as it was.
    assert db.session.query(Service).count() == 3
    assert db.session.query(Location).count() == 4


def test_cli_refuses_a_file_as_the_target_and_writes_nothing(db, runner, tmp_path):
    target = tmp_path / "not-a-folder"
    target.write_text("keep me")

    result = runner.invoke(args=["directory", "export-hsds", str(target)])

    assert result.exit_code != 0
    assert "not-a-folder" in result.output
    assert target.read_text() == "keep me"


# ------------------------------------------------------------------ round trip


def _empty_the_directory(db) -> None:
    """Delete every directory row, children first: an empty directory to import into."""
    tables = {model.__table__.name for model in TABLE_MODELS.values() if model is not None}
    for table in reversed(db.metadata.sorted_tables):
        if table.name in tables:
            db.session.execute(table.delete())
    db.session.commit()
    assert db.session.query(Service).count() == 0


def _assert_same_files(first: Path, second: Path) -> None:
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in names:
        before, after = (first / name).read_text(), (second / name).read_text()
        if before != after:
            for line_before, line_after in zip(
                before.splitlines(), after.splitlines(), strict=False
            ):
                assert line_before == line_after, f"{name} differs"
            assert before == after, f"{name} differs in length"


def _reimport_and_export_again(db, tmp_path: Path, form: str) -> None:
    """Empty the directory, import the first export's `form` folder cleanly (nothing rejected,
    no warnings) and export it again to tmp_path / "second"."""
    _empty_the_directory(db)
    report = import_path(tmp_path / "first" / form)
    db.session.commit()
    assert [str(issue) for issue in report.rejected] == []
    assert [str(issue) for issue in report.warnings] == []
    export_package(tmp_path / "second")


def _every_table_and_more(db) -> None:
    make_every_hsds_table(db)
    make_service(db, name="Second pantry")
    make_location(db, organization=make_organization(db), name="A site with no service")
    db.session.commit()


def test_json_export_import_export_gives_the_same_records(db, tmp_path):
    _every_table_and_more(db)
    first = export_package(tmp_path / "first")
    empty_tables = [name for name, count in first.counts.items() if count == 0]
    assert empty_tables == ["csv/meta_table_descriptions.csv"]
    folder = tmp_path / "first" / "json"
    assert_valid(
        "compiled/service_package.json", json.loads((folder / "services.json").read_text())
    )
    organizations = json.loads((folder / "organizations.json").read_text())
    assert_valid("compiled/organization_package.json", organizations)

    _reimport_and_export_again(db, tmp_path, "json")

    _assert_same_files(tmp_path / "first", tmp_path / "second")


def _history_dates_only(path: Path) -> list:
    """The nested objects with every metadata last_action_date cut to its date."""

    def cut(node):
        if isinstance(node, dict):
            return {
                key: value.split("T")[0] if key == "last_action_date" else cut(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [cut(item) for item in node]
        return node

    return cut(json.loads(path.read_text()))


def test_csv_export_import_export_gives_the_same_records_but_history_times(db, tmp_path):
    """HSDS's descriptor types metadata.last_action_date as a date, so CSV keeps no time."""
    _every_table_and_more(db)
    export_package(tmp_path / "first")

    _reimport_and_export_again(db, tmp_path, "csv")

    _assert_same_files(tmp_path / "first" / "csv", tmp_path / "second" / "csv")
    for name in ("taxonomies.json", "taxonomy_terms.json"):
        first_text = (tmp_path / "first" / "json" / name).read_text()
        assert first_text == (tmp_path / "second" / "json" / name).read_text(), name
    for name in ("services.json", "organizations.json"):
        before = _history_dates_only(tmp_path / "first" / "json" / name)
        assert before == _history_dates_only(tmp_path / "second" / "json" / name), name
    second = json.loads((tmp_path / "second" / "json" / "services.json").read_text())
    dates = [m["last_action_date"] for s in second for m in s.get("metadata", [])]
    assert dates == ["2024-03-01T00:00:00Z"]


def test_export_reads_one_snapshot_while_others_write(db, tmp_path):
    """A service added while the export runs is in none of its files, not in some."""
    _small_directory(db)

    def write_meanwhile(name: str, done: int, total: int) -> None:
        if name == "organizations.json" and done == 0:
            make_service(db, name="Added during the export")
            db.session.commit()

    export_package(tmp_path, progress=write_meanwhile)

    services = json.loads((tmp_path / "json" / "services.json").read_text())
    assert len(services) == len(_read_csv(tmp_path / "csv" / "services.csv")) == 3
    organizations = json.loads((tmp_path / "json" / "organizations.json").read_text())
    assert len(organizations) == len(_read_csv(tmp_path / "csv" / "organizations.csv")) == 2
    assert db.session.query(Service).count() == 4
