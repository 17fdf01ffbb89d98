"""What an HSDS package is and where its files are: 3.0 JSON, a 3.0 CSV datapackage, a legacy
1.x CSV package, or a .zip of one.

`detect(path)` looks at file names, the datapackage.json descriptor and the services.csv header;
it reads no rows. A path that holds no HSDS package raises ImportFailed, naming what it found.

A datapackage resource is looked for where real exports put it: at its path relative to
datapackage.json, then in a `data/` folder beside it (211 exports keep their CSVs in `data/`
while the descriptor names them bare), then by its file name in any folder one level down.
Resources found nowhere are listed in `Found.missing` for the report; the import goes on.
"""

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from directory.hsds.importing.legacy import LEGACY_FILES, LEGACY_ONLY
from directory.hsds.importing.read import (
    ImportFailed,
    normalize_column,
    read_datapackage,
    size_text,
)
from directory.hsds.importing.v3 import V3_FILES

# How the report names each kind of package.
FORMATS = {"json": "HSDS 3.0 JSON", "v3": "HSDS 3.0 CSV", "legacy": "HSDS 1.x CSV"}
# Names datapackage templates carry unchanged; they say nothing about where the data came from.
GENERIC_PACKAGE_NAMES = {"", "human_services_data", "hsds", "datapackage", "data", "export"}
GENERIC_FOLDER_NAMES = {"json", "csv", "data", "export", "hsds", "datapackage"}
HSDS_FILE_STEMS = {
    "services",
    "organizations",
    "locations",
    "service_at_locations",
    "taxonomies",
    "taxonomy_terms",
    "programs",
    "data",
    "export",
}


@dataclass
class Found:
    """What a path holds: the kind of package, the folder with its files, its descriptor."""

    kind: str  # "json" (HSDS 3.0 JSON), "v3" (3.0 CSV) or "legacy" (1.x CSV)
    folder: Path
    descriptor: dict | None  # datapackage.json, when there is one
    json_files: list[Path]  # for "json": the files to read, in order
    missing: list[tuple[str, str]] = field(default_factory=list)  # resources not found: name, path


# A member that unzips to more than this many times its compressed size, and to more than a few
# megabytes, is a zip bomb: real CSV and JSON compress 5 to 50 times, zeros a thousand times.
SUSPICIOUS_RATIO = 500
SUSPICIOUS_SIZE = 4 * 1024 * 1024
DEFAULT_MAX_UNZIPPED_BYTES = 2 * 1024 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024


def unzip(path: Path, folder: Path, max_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES) -> Path:
    """Extract a .zip into `folder`; the package's root (its single top folder, if it has one).

    Refused before anything is extracted: a member named outside the package (absolute, "..")
    and a zip whose declared sizes add up to more than `max_bytes` or that compresses
    suspiciously well (a zip bomb). Declared sizes can lie, so bytes are counted as they are
    written too, and extraction stops at the cap.
    """
    cap = f"imports are capped at {size_text(max_bytes)} unzipped (IMPORT_MAX_UNZIPPED_BYTES)"
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            declared = sum(info.file_size for info in members)
            if declared > max_bytes:
                raise ImportFailed(
                    f"{path.name} would unzip to {size_text(declared)}: {cap}; refused"
                )
            for info in members:
                _check_member(path, info)
            written = 0
            for info in members:
                target = folder.joinpath(*_member_parts(info.filename))
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as sink:
                    while chunk := source.read(_COPY_CHUNK):
                        written += len(chunk)
                        if written > max_bytes:
                            raise ImportFailed(
                                f"{path.name} unzips to more than it declares ({info.filename} "
                                f"goes past the cap): {cap}; refused"
                            )
                        sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        raise ImportFailed(f"{path.name} is not a readable zip file: {exc}") from None
    entries = [p for p in folder.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


def _member_parts(name: str) -> list[str]:
    return [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in _member_parts(name):
        raise ImportFailed(
            f"{path.name} holds {info.filename!r}, a path outside the package: refused"
        )
    if info.file_size > SUSPICIOUS_SIZE and info.file_size > SUSPICIOUS_RATIO * max(
        info.compress_size, 1
    ):
        ratio = info.file_size // max(info.compress_size, 1)
        raise ImportFailed(
            f"{path.name}: {info.filename} is compressed {ratio} to 1 "
            f"({size_text(info.compress_size)} unzipping to {size_text(info.file_size)}), "
            "which only zip bombs do; refused"
        )


def detect(path: Path) -> Found:
    """Which kind of HSDS package `path` (a file or a folder) is, and where its files are."""
    if path.is_file():
        suffix = path.suffix.lower()
        if path.name.lower() == "datapackage.json":
            return detect(path.parent)
        if suffix in (".json", ".ndjson", ".jsonl"):
            return Found("json", path.parent, None, [path])
        if suffix == ".csv":
            raise ImportFailed(
                f"{path.name} is one CSV file: give the folder that holds it with the package's "
                "other files (and datapackage.json)"
            )
        raise ImportFailed(
            f"{path.name}: unknown format; expected an HSDS JSON file, a folder of HSDS CSV or "
            "JSON files, or a .zip of one"
        )
    folder = path
    visible = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if not any(p.is_file() for p in visible):
        # One folder inside (an unzipped export), or our own export's json/ and csv/.
        inner = [p for p in visible if p.is_dir()]
        preferred = [p for p in inner if p.name.lower() in ("json", "csv")]
        if len(inner) == 1 or preferred:
            folder = (
                sorted(preferred, key=lambda p: p.name.lower() != "json")[0]
                if preferred
                else inner[0]
            )
            visible = list(folder.iterdir())
    descriptor = read_datapackage(folder)
    resources, missing = _resource_files(folder, descriptor)
    csvs = [p for p in visible if p.is_file() and _tabular(p)]
    csvs += [p for p in resources if p.parent.resolve() != folder.resolve()]
    jsons = sorted(
        (
            p
            for p in visible
            if p.is_file()
            and p.suffix.lower() in (".json", ".ndjson", ".jsonl")
            and p.name.lower() != "datapackage.json"
        ),
        key=_json_file_order,
    )
    if csvs:
        return Found(_tabular_kind(folder, descriptor, csvs), folder, descriptor, [], missing)
    if jsons:
        return Found("json", folder, descriptor, jsons)
    if descriptor is not None:
        names = ", ".join(path for _, path in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ImportFailed(
            f"{folder.name}/datapackage.json describes the package but none of its CSV files "
            f"({names}) are beside it, in data/ or in a folder one level down"
        )
    inner = _data_folder(folder)
    if inner is not None:
        return detect(inner)  # an export folder with a README and its CSVs in data/
    raise ImportFailed(f"{folder} holds no HSDS files (no datapackage.json, .csv or .json files)")


def _tabular(path: Path) -> bool:
    """A CSV or TSV file; a .txt file only when named as an HSDS table (not a README.txt)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return path.stem.lower() in V3_FILES or path.stem.lower() in LEGACY_FILES
    return suffix in (".csv", ".tsv")


def _data_folder(folder: Path) -> Path | None:
    """The folder one level down that holds the CSV or JSON files: data/ first."""
    inner = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))),
        key=lambda p: (p.name.lower() != "data", p.name),
    )
    for candidate in inner:
        if any(
            p.is_file() and p.suffix.lower() in (".csv", ".json")
            for p in candidate.iterdir()
            if not p.name.startswith(".")
        ):
            return candidate
    return None


def _json_file_order(path: Path) -> tuple[int, str]:
    first = ("taxonomies", "taxonomy", "taxonomy_terms", "organizations")
    stem = path.stem.lower()
    return (first.index(stem) if stem in first else len(first), path.name)


# Tables whose name says which HSDS version a package follows.
LEGACY_ONLY_RESOURCES = {
    "regular_schedule",
    "holiday_schedule",
    "physical_address",
    "postal_address",
    "service_taxonomy",
    "accessibility_for_disabilities",
    "eligibility",
    "payment_accepted",
}
V3_ONLY_FILES = {
    "schedules",
    "addresses",
    "attributes",
    "taxonomy_terms",
    "taxonomies",
    "cost_options",
    "organization_identifiers",
    "accessibility",
    "service_at_location",
}
V3_ONLY_RESOURCES = {
    "schedule",
    "address",
    "attribute",
    "taxonomy_term",
    "cost_option",
    "organization_identifier",
    "accessibility",
}


def _tabular_kind(folder: Path, descriptor: dict | None, csvs: list[Path]) -> str:
    """HSDS 1.x or 3.0, from the datapackage's version and resources and the files present."""
    stems = {p.stem.lower() for p in csvs}
    names = {str(r.get("name", "")).lower() for r in (descriptor or {}).get("resources", [])}
    version = str((descriptor or {}).get("version", ""))
    legacy = len(stems & LEGACY_ONLY) + len(names & LEGACY_ONLY_RESOURCES)
    modern = len(stems & V3_ONLY_FILES) + len(names & V3_ONLY_RESOURCES)
    if version.startswith("3") or str((descriptor or {}).get("hsds_version", "")).startswith("3"):
        modern += 2
    services = next((p for p in csvs if p.stem.lower() == "services"), None)
    if services is not None:
        header = services.read_bytes()[:4096].decode("utf-8", "replace").splitlines()[:1]
        columns = {normalize_column(c.strip('"')) for c in (header[0].split(",") if header else [])}
        if columns & {"fees_description", "eligibility_description", "last_modified"}:
            modern += 1
        elif columns & {"fees", "taxonomy_ids"}:
            legacy += 1
    if legacy == 0 and modern == 0:
        known = {s for s in stems if s in V3_FILES or s in LEGACY_FILES}
        if not known:
            raise ImportFailed(
                f"{folder.name} has CSV files but none with an HSDS table's name "
                f"(found: {', '.join(sorted(p.name for p in csvs))})"
            )
    return "legacy" if legacy > modern else "v3"


def dataset_name(path: Path, found: Found, default: str | None) -> str:
    """The datapackage's name, else the folder's (or the zip's, or the JSON file's) name."""
    name = str((found.descriptor or {}).get("name") or "").strip()
    if name.lower() not in GENERIC_PACKAGE_NAMES:
        return name
    if default:
        return default
    if path.is_file() and path.stem.lower() not in HSDS_FILE_STEMS:
        return path.stem
    folder = found.folder.resolve()
    while folder.name.lower() in GENERIC_FOLDER_NAMES and folder.parent != folder:
        folder = folder.parent  # export/json -> the export's own name
    return folder.name or "import"


def csv_files(
    found: Found, names: dict[str, str | None]
) -> dict[Path, tuple[str | None, str | None]]:
    """The package's CSV files: path -> (the table it holds, None if no HSDS table; the encoding
    its datapackage resource declares). `names` maps file stems and resource names to tables."""
    files: dict[Path, tuple[str | None, str | None]] = {}
    for path, resource in _resource_files(found.folder, found.descriptor)[0].items():
        table = names.get(str(resource.get("name", "")).lower(), names.get(path.stem.lower()))
        files[path] = (table, resource.get("encoding"))
    for path in sorted(found.folder.iterdir()):
        if path.is_file() and _tabular(path):
            files.setdefault(path.resolve(), (names.get(path.stem.lower()), None))
    return files


def _resource_files(
    folder: Path, descriptor: dict | None
) -> tuple[dict[Path, dict], list[tuple[str, str]]]:
    """The datapackage's resources found as files inside the package folder, by path; and the
    (name, path) of those found nowhere."""
    found: dict[Path, dict] = {}
    missing: list[tuple[str, str]] = []
    for resource in (descriptor or {}).get("resources", []):
        target = resource.get("path")
        if isinstance(target, list):
            target = target[0] if target else None
        if not isinstance(target, str) or "://" in target or not target.strip():
            continue
        path = locate_resource(folder, target)
        if path is None:
            missing.append((str(resource.get("name") or PurePosixPath(target).stem), target))
        else:
            found[path] = resource
    return found, missing


def locate_resource(folder: Path, target: str) -> Path | None:
    """Where a resource path of folder/datapackage.json really is: relative to the descriptor,
    then in data/ beside it, then by file name (any case) here, in data/ or one folder down."""
    root = folder.resolve()
    relative = PurePosixPath(target.strip().replace("\\", "/"))
    for candidate in (folder / relative, folder / "data" / relative):
        path = candidate.resolve()
        if path.is_file() and path.is_relative_to(root):
            return path
    name = relative.name.lower()
    subfolders = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))),
        key=lambda p: (p.name.lower() != "data", p.name),
    )
    for directory in (folder, *subfolders):
        for path in sorted(directory.iterdir()):
            if path.name.lower() == name and path.is_file():
                resolved = path.resolve()
                if resolved.is_relative_to(root):
                    return resolved
    return None
