"""Imports stay within bounds: zip bombs and oversized or malicious zips are refused before
anything is written, CSV files are read a row at a time, and control characters in a cell are
stripped (with a warning) instead of reaching the database."""

import json
import struct
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.hsds.importing import ImportFailed, import_path
from directory.hsds.importing.read import read_csv
from directory.hsds.importing.records import Context, Package, PackedValues
from directory.hsds.importing.v3 import add_tabular_rows
from directory.hsds.importing.values import strip_controls
from directory.models import Organization, Service

ORG = "5f0c6a52-1d6c-4a5e-9a39-3a3d1c000001"
SERVICE = "5f0c6a52-1d6c-4a5e-9a39-3a3d1c000002"
MB = 1024 * 1024


def _package(folder: Path, service_name: str = "Food Pantry", description: str = "Groceries"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "organizations.csv").write_text(f"id,name\n{ORG},Northside Center\n")
    with (folder / "services.csv").open("w", encoding="utf-8", newline="") as stream:
        stream.write("id,organization_id,name,description,status\n")
        stream.write(f'{SERVICE},{ORG},"{service_name}","{description}",active\n')
    return folder


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _members(folder: Path) -> dict[str, bytes]:
    return {f"pkg/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}


def _services(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Service))


# --- zips ---------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_fast_naming_the_file_and_the_cap(db, app, runner, tmp_path):
    app.config["IMPORT_MAX_UNZIPPED_BYTES"] = 10 * MB
    members = _members(_package(tmp_path / "pkg"))
    bomb = _zip(tmp_path / "bomb.zip", {**members, "pkg/padding.csv": bytes(50 * MB)})
    assert bomb.stat().st_size < 200_000

    started = time.monotonic()
    result = runner.invoke(args=["directory", "import-hsds", str(bomb)])

    assert time.monotonic() - started < 5
    assert result.exit_code != 0
    assert "bomb.zip" in result.output
    assert "10 MB" in result.output  # the cap, as configured
    assert "Nothing was imported." in result.output
    assert _services(db) == 0


def test_a_member_compressed_beyond_belief_is_refused_under_the_default_cap(db, tmp_path):
    members = _members(_package(tmp_path / "pkg"))
    bomb = _zip(tmp_path / "ratio.zip", {**members, "pkg/services_extra.csv": bytes(30 * MB)})

    with pytest.raises(ImportFailed, match=r"ratio\.zip.*services_extra\.csv.*compress"):
        import_path(bomb)
    assert _services(db) == 0


def _lie_about_sizes(path: Path, declared: int) -> None:
    """Rewrite every header of the zip to say each member unzips to `declared` bytes."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (found := data.find(signature, start)) != -1:
            struct.pack_into("<I", data, found + offset, declared)
            start = found + 4
    path.write_bytes(bytes(data))


def test_a_zip_that_lies_about_its_sizes_is_caught_while_unzipping(db, app, tmp_path):
    app.config["IMPORT_MAX_UNZIPPED_BYTES"] = 10 * MB
    members = _members(_package(tmp_path / "pkg"))
    liar = _zip(tmp_path / "liar.zip", {**members, "pkg/notes.csv": bytes(range(256)) * 80_000})
    _lie_about_sizes(liar, 1000)

    with pytest.raises(ImportFailed, match=r"liar\.zip"):
        import_path(liar)
    assert _services(db) == 0


@pytest.mark.parametrize("name", ["../escape.csv", "/etc/escape.csv", "pkg/../../escape.csv"])
def test_a_zip_member_outside_the_package_is_refused(db, tmp_path, name):
    members = _members(_package(tmp_path / "pkg"))
    archive = _zip(tmp_path / "traversal.zip", {**members, name: b"id,name\n1,x\n"})

    with pytest.raises(ImportFailed, match=r"traversal\.zip.*escape\.csv"):
        import_path(archive)
    assert _services(db) == 0
    assert not (tmp_path / "escape.csv").exists()


def test_a_well_formed_zip_still_imports(db, tmp_path):
    archive = _zip(tmp_path / "fine.zip", _members(_package(tmp_path / "pkg")))
    report = import_path(archive)
    db.session.commit()
    assert report.count("service").created == 1


# --- streaming ----------------------------------------------------------------------------------


def test_a_csv_is_read_a_row_at_a_time(tmp_path):
    path = tmp_path / "services.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("id,organization_id,name,description\n")
        for n in range(40_000):
            stream.write(f"{n},1,Service {n},{'Food and rent help. ' * 5}\n")
    size = path.stat().st_size
    assert size > 4 * MB

    tracemalloc.start()
    try:
        table = read_csv(path, required=("id", "name"))
        rows = sum(1 for _ in table.rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rows == 40_000
    assert table.count == 40_000
    assert peak < size / 4, f"reading a {size} byte CSV peaked at {peak} bytes"


def test_streamed_rows_keep_line_numbers_encodings_and_the_excel_separator(tmp_path):
    path = tmp_path / "services.csv"
    path.write_bytes("sep=;\r\nid;name\r\n\r\n1;Café\r\n".encode("cp1252"))
    table = read_csv(path, required=("id", "name"))
    assert table.encoding == "cp1252"
    assert list(table.rows) == [(4, {"id": "1", "name": "Café"})]
    assert list(table.rows) == list(table.rows)  # read again, the same


# --- control characters -------------------------------------------------------------------------


def test_strip_controls_keeps_tabs_and_newlines():
    assert strip_controls("a\x00b\x07c\x1b\x7f\x85d\te\nf\r\ng\rh") == "abcd\te\nf\ng\nh"
    assert strip_controls("plain") == "plain"


def _warned_fields(report) -> set[str]:
    return {i.reason for i in report.warnings if "control character" in i.reason}


def test_control_characters_in_csv_cells_are_stripped_with_a_warning(db, tmp_path):
    package = _package(tmp_path / "pkg", "Food\x00 Pantry\x07", "Groceries\x1b and\r\nmilk")

    report = import_path(package)
    db.session.commit()

    service = db.session.scalars(select(Service)).one()
    assert service.name == "Food Pantry"
    assert service.description == "Groceries and\nmilk"
    warnings = _warned_fields(report)
    assert any("'name'" in w for w in warnings)
    assert any("'description'" in w for w in warnings)
    assert any(i.origin.where == "row 2" for i in report.warnings if "control" in i.reason)


def test_control_characters_in_json_strings_are_stripped_with_a_warning(db, tmp_path):
    folder = tmp_path / "json"
    folder.mkdir()
    services = [
        {
            "id": SERVICE,
            "name": "Hot\u0000 Meals",
            "status": "active",
            "description": "Dinner\u0007 every weekday",
            "organization": {"id": ORG, "name": "North\u001bside"},
        }
    ]
    (folder / "services.json").write_text(json.dumps(services))

    report = import_path(folder)
    db.session.commit()

    service = db.session.scalars(select(Service)).one()
    assert (service.name, service.description) == ("Hot Meals", "Dinner every weekday")
    assert db.session.scalars(select(Organization.name)).one() == "Northside"
    warned = [(i.table, i.reason) for i in report.warnings if "control" in i.reason]
    assert ("organization", "removed control characters from 'name'") in warned
    assert ("service", "removed control characters from 'description'") in warned
    assert str(uuid.UUID(SERVICE)) in {i.origin.source_id for i in report.warnings}


# --- holding less than the package --------------------------------------------------------------


def test_packed_values_read_and_change_like_the_dict_they_hold():
    link = uuid.uuid4()
    values = {"name": "Food Pantry", "description": "Groceries. " * 20, "organization_id": link}
    packed = PackedValues(dict(values))
    assert packed == values and dict(packed) == values and list(packed) == list(values)
    assert packed.get("organization_id") is link and packed.get("missing") is None
    assert packed.links() == {"organization_id": link}
    packed["name"] = "Pantry"
    del packed["description"]
    assert packed == {"name": "Pantry", "organization_id": link}
    assert packed.unpack() is not packed.unpack()  # a copy each time: the blob is the truth


def test_a_service_with_much_text_is_held_packed_until_its_table_is_written(tmp_path):
    package = Package(format="HSDS 3.0 CSV", dataset="t")
    ctx = Context(package, {})
    long_text = "Groceries and rent help for county residents. " * 5
    row = {"id": SERVICE, "organization_id": ORG, "name": "Pantry", "description": long_text}
    rows = [(2, row)]
    add_tabular_rows(ctx, "service", "services.csv", rows)
    (record,) = package.records["service"]
    assert isinstance(record.values, PackedValues)
    assert record.values.get("description") == long_text
    assert record.values.get("organization_id") == uuid.UUID(ORG)
    assert record.refs == {}  # the source's id is ours, spelled the same: nothing kept twice


def test_a_reimport_of_long_texts_updates_what_changed_and_keeps_the_rest(db, tmp_path):
    first = "Groceries every Tuesday for residents of the county; bring proof of address. " * 3
    import_path(_package(tmp_path / "one", description=first), dataset="pkg")
    db.session.commit()
    second = first.replace("Tuesday", "Thursday")
    report = import_path(_package(tmp_path / "two", "Food Pantry " + "x" * 300, second), "pkg")
    db.session.commit()
    service = db.session.get(Service, uuid.UUID(SERVICE))
    assert report.count("service").updated == 1
    assert service.description == second.strip()
    assert service.name == "Food Pantry " + "x" * 300
    again = import_path(_package(tmp_path / "three", "Food Pantry " + "x" * 300, second), "pkg")
    assert again.count("service").unchanged == 1


def test_a_json_object_over_the_cap_is_refused_before_it_is_read(db, app, tmp_path):
    path = tmp_path / "services.json"  # an API page is read whole; arrays are streamed
    path.write_text(json.dumps({"contents": [{"id": SERVICE, "name": "Pantry " * 200}]}))
    app.config["IMPORT_MAX_JSON_BYTES"] = 1000
    with pytest.raises(ImportFailed, match=r"services.json is 1.* KB: JSON files are capped at"):
        import_path(path)
    assert _services(db) == 0
