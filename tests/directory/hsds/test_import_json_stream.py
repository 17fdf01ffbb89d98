"""JSON arrays and NDJSON are imported an item at a time from the file, never held whole; JSON
whose top level is an object is still read whole, under IMPORT_MAX_JSON_BYTES."""

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.hsds.importing import ImportFailed, import_path
from directory.hsds.importing.read import iter_json_items, json_streams, read_json
from directory.hsds.importing.records import Context, Package
from directory.hsds.importing.v3 import add_json_document, add_json_files
from directory.models import Service

DATA = Path(__file__).parents[2] / "data" / "import"
ORG = "5f0c6a52-1d6c-4a5e-9a39-3a3d1c000001"


def _service(number: int) -> dict:
    return {
        "id": str(uuid.UUID(int=number + 1000)),
        "name": f"Pantry {number} — café «ünïcode»",
        "status": "active",
        "description": 'Groceries, "quoted" and \\ escaped\n' * 3,
        "organization": {"id": ORG, "name": "Northside Center"},
        "phones": [{"number": f"315-555-{number:04d}", "extension": number * 1.5}],
    }


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Service))


def test_an_array_over_the_json_cap_is_streamed_and_imported_whole(db, app, tmp_path):
    path = tmp_path / "services.json"
    path.write_text(json.dumps([_service(n) for n in range(40)], indent=1), encoding="utf-8")
    app.config["IMPORT_MAX_JSON_BYTES"] = 1000
    report = import_path(path)
    assert report.count("service").created == 40
    assert _count(db) == 40


def test_an_object_over_the_json_cap_is_still_refused(db, app, tmp_path):
    path = tmp_path / "services.json"
    path.write_text(json.dumps({"contents": [_service(n) for n in range(40)]}), encoding="utf-8")
    app.config["IMPORT_MAX_JSON_BYTES"] = 1000
    with pytest.raises(ImportFailed, match=r"services.json is .* KB: JSON files are capped at"):
        import_path(path)
    assert _count(db) == 0


def test_ndjson_is_streamed_and_imported(db, app, tmp_path):
    path = tmp_path / "services.ndjson.json"
    lines = [json.dumps(_service(n)) for n in range(30)]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    app.config["IMPORT_MAX_JSON_BYTES"] = 1000
    assert json_streams(path)
    report = import_path(path)
    assert report.count("service").created == 30


def test_a_truncated_array_is_refused_with_its_line_and_nothing_is_written(db, tmp_path):
    path = tmp_path / "services.json"
    text = json.dumps([_service(n) for n in range(5)], indent=1)
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    line = text[: len(text) // 2].count("\n")  # cut mid-string: the string's line or the last
    with pytest.raises(ImportFailed, match=r"services.json is not valid JSON \(line \d+") as exc:
        import_path(path)
    assert "is the file complete?" in str(exc.value)
    assert int(str(exc.value).split("(line ")[1].split(",")[0]) <= line + 1
    assert _count(db) == 0


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1000])
@pytest.mark.parametrize("indent", [None, 2])
def test_items_cut_by_chunk_boundaries_parse_as_json_loads_does(tmp_path, chunk_size, indent):
    items = [_service(n) for n in range(4)] + [12345, -6.5e3, "x", True, None, [], {}, [1, [2]]]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items, indent=indent, ensure_ascii=False), encoding="utf-8")
    assert list(iter_json_items(path, chunk_size=chunk_size)) == json.loads(path.read_text())
    ndjson = tmp_path / "items.ndjson"
    ndjson.write_text("\n".join(json.dumps(i) for i in items), encoding="utf-8")
    assert list(iter_json_items(ndjson, chunk_size=chunk_size)) == items


@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 20])
@pytest.mark.parametrize(
    "text",
    [
        '[{"id": "1", "name": "Pantry"},\n {"id": "2", "na',
        '[{"id": "1"},\n {"id": "2"}\n',
        '[{"id": "1"},\n {"id": "2"},\n]',
        '[{"id": "1"}\n {"id": "2"}]',
        '[{"id": "1"},\n {"id": tru',
        '[{"id": "1"}]\n{"id": "2"}',
        '{"id": "1"}\n{"id": "2"\n',
    ],
)
def test_broken_json_is_refused_with_the_line_and_column_json_loads_gives(
    tmp_path, text, chunk_size
):
    path = tmp_path / "services.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    wanted = f"line {expected.value.lineno}, column {expected.value.colno}"
    if text.startswith("{"):  # NDJSON: where the value that never ends stops, the end
        wanted = f"line {text.count(chr(10)) + 1}, column 1"
    with pytest.raises(ImportFailed, match=rf"services.json is not valid JSON \({wanted}: ") as e:
        list(iter_json_items(path, chunk_size=chunk_size))
    assert str(e.value).endswith("is the file complete?")


@pytest.mark.parametrize(
    "encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("cp1252", b"")]
)
def test_utf16_and_cp1252_arrays_decode_as_the_whole_read_does(tmp_path, encoding, bom):
    items = [{"id": "1", "name": "Café Señor — “quoted”"}, {"id": "2", "name": "plain"}]
    path = tmp_path / "services.json"
    path.write_bytes(bom + json.dumps(items, ensure_ascii=False).encode(encoding))
    assert json_streams(path)
    assert list(iter_json_items(path, chunk_size=3)) == read_json(path) == items


@pytest.mark.parametrize("layout", ["fixture", "ndjson"])
def test_streaming_gives_the_records_the_whole_read_gave(tmp_path, layout):
    path = DATA / "v3_json" / "services.json"
    if layout == "ndjson":
        items = json.loads(path.read_text(encoding="utf-8"))
        path = tmp_path / "services.json"
        path.write_text("\n".join(json.dumps(i) for i in items), encoding="utf-8")
    assert json_streams(path)
    streamed = Context(Package(format="HSDS 3.0 JSON", dataset="t"), {})
    add_json_files(streamed, [path], lambda _: None)
    whole = Context(Package(format="HSDS 3.0 JSON", dataset="t"), {})
    whole.package.files.append(path.name)
    add_json_document(whole, path.name, read_json(path), "service")
    assert sum(len(r) for r in streamed.package.records.values()) > 10
    assert streamed.package == whole.package  # records, rejections, warnings, authority


def test_objects_api_pages_and_tabular_json_are_read_whole(tmp_path):
    for name, data in [
        ("one.json", _service(1)),
        ("page.json", {"contents": [_service(1)], "total_items": 1}),
        ("tabular.json", {"services.csv": [{"id": "1", "name": "x"}]}),
    ]:
        path = tmp_path / name
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        assert not json_streams(path), name
    one_line = tmp_path / "line.json"
    one_line.write_text(json.dumps(_service(1)) + "\n\n", encoding="utf-8")
    assert not json_streams(one_line)
