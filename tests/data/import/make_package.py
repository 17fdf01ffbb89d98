"""Write a large HSDS 1.x CSV package, shaped like a 211 export, for speed tests and benchmarks.

    python tests/data/import/make_package.py OUT_FOLDER 20000 [--211]
    time flask --app app directory import-hsds OUT_FOLDER

Integer ids, one organization per 4 services, one location and one address per service, two
phones (one with languages), five weekday schedules and a holiday, two taxonomy terms each.

With --211, the package has what real 211 exports have: its CSV files in data/ under a
datapackage.json that names them bare, a languages.csv giving every language of a service the
service's id, one organization in ten missing (its services need a placeholder), and a third
of the services with their hours only in original_text (one in fifty unreadable).
"""

import csv
import json
import sys
from pathlib import Path

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def _write(folder: Path, name: str, header: list[str], rows) -> None:
    with (folder / name).open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def write_legacy_package(folder: Path, services: int) -> Path:
    """Write the package into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    organizations = max(1, services // 4)
    _write(
        folder,
        "organizations.csv",
        ["id", "name", "description", "email", "url", "tax_id", "year_incorporated"],
        (
            [
                o,
                f"Organization {o}",
                f"Helps people in district {o}",
                f"org{o}@example.org",
                f"https://org{o}.example.org",
                f"16-{o:07d}",
                1950 + o % 70,
            ]  # fmt: skip
            for o in range(1, organizations + 1)
        ),
    )
    _write(
        folder,
        "services.csv",
        ["id", "organization_id", "name", "description", "status", "fees", "taxonomy_ids"],
        (
            [
                s,
                1 + (s - 1) % organizations,
                f"Service {s}",
                f"Food, rent and job help {s}",
                "active",
                "Free" if s % 3 else "$5",
                "",
            ]  # fmt: skip
            for s in range(1, services + 1)
        ),
    )
    _write(
        folder,
        "locations.csv",
        ["id", "organization_id", "name", "latitude", "longitude"],
        (
            [
                s,
                1 + (s - 1) % organizations,
                f"Site {s}",
                f"{43.0 + (s % 100) / 1000:.6f}",  # within ~10 km of ZIP 13202, its address
                f"{-76.1 - (s % 100) / 1000:.6f}",
            ]  # fmt: skip
            for s in range(1, services + 1)
        ),
    )
    _write(
        folder,
        "services_at_location.csv",
        ["id", "service_id", "location_id"],
        ([s, s, s] for s in range(1, services + 1)),
    )
    _write(
        folder,
        "physical_addresses.csv",
        ["id", "location_id", "address_1", "city", "state_province", "postal_code", "country"],
        ([s, s, f"{s} Main St", "Syracuse", "NY", "13202", "US"] for s in range(1, services + 1)),
    )
    _write(
        folder,
        "phones.csv",
        ["id", "service_id", "location_id", "number", "type", "language"],
        (
            row
            for s in range(1, services + 1)
            for row in (
                [2 * s, s, "", f"315-555-{s % 10000:04d}", "voice", "en, es"],
                [2 * s + 1, "", s, f"315-556-{s % 10000:04d}", "fax", ""],
            )
        ),
    )
    _write(
        folder,
        "regular_schedules.csv",
        ["id", "service_id", "weekday", "opens_at", "closes_at"],
        (
            [5 * s + d, s, WEEKDAYS[d], "9:00am", "5:00pm"]
            for s in range(1, services + 1)
            for d in range(5)
        ),
    )
    _write(
        folder,
        "holiday_schedules.csv",
        ["id", "service_id", "closed", "start_date", "end_date"],
        ([s, s, "true", "2024-12-25", "2024-12-25"] for s in range(1, services + 1)),
    )
    _write(
        folder,
        "taxonomy.csv",
        ["id", "name", "parent_id", "vocabulary"],
        [
            ["BD", "Basic Needs", "", "AIRS"],
            ["BD-1800", "Food", "BD", "AIRS"],
            ["BH", "Housing", "BD", "AIRS"],
        ],  # fmt: skip
    )
    _write(
        folder,
        "services_taxonomy.csv",
        ["id", "service_id", "taxonomy_id"],
        (
            row
            for s in range(1, services + 1)
            for row in ([2 * s, s, "BD-1800"], [2 * s + 1, s, "BH"])
        ),
    )
    return folder


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def write_211_export(folder: Path, services: int) -> Path:
    """Write a package with the quirks of real 211 exports (see the module docstring)."""
    data = write_legacy_package(folder / "data", services)
    header, *rows = _read(data / "organizations.csv")
    _write(data, "organizations.csv", header, (r for r in rows if int(r[0]) % 10))
    schedule_rows = []
    for s in range(1, services + 1):
        if s % 3:
            schedule_rows += [[5 * s + d, s, WEEKDAYS[d], "9:00am", "5:00pm", ""] for d in range(5)]
        else:
            text = "Call for hours" if s % 50 == 0 else "Mon-Fri 9:00am-5:00pm, Sat 10-2"
            schedule_rows.append([5 * s, s, "", "", "", text])
    _write(
        data,
        "regular_schedules.csv",
        ["id", "service_id", "weekday", "opens_at", "closes_at", "original_text"],
        schedule_rows,
    )
    _write(
        data,
        "languages.csv",
        ["id", "service_id", "location_id", "language"],
        (
            [s, s, "", language]
            for s in range(1, services + 1)
            for language in ("English", "Spanish", *(["Haitian Creole"] * (s % 3 == 0)))
        ),
    )
    resources = [
        {"name": path.stem, "path": path.name, "format": "csv"}
        for path in sorted(data.glob("*.csv"))
    ]
    descriptor = {"name": f"generated-211-{services}", "version": "1.1", "resources": resources}
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2))
    return folder


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--211"]
    if len(arguments) != 2:
        sys.exit("usage: make_package.py OUT_FOLDER SERVICES [--211]")
    write = write_211_export if "--211" in sys.argv else write_legacy_package
    out = write(Path(arguments[0]), int(arguments[1]))
    print(f"wrote {arguments[1]} services to {out}")
