"""Import memory benchmark: peak RSS and wall time of importing a package with a ~50 MB CSV.

    .venv/bin/python bench/import_memory.py                 # ~50 MB services.csv, on SQLite
    .venv/bin/python bench/import_memory.py --mb 20 --zip   # smaller, imported from a .zip
    .venv/bin/python bench/import_memory.py --dry-run       # read, check, write, roll back

Builds an HSDS 3.0 CSV package in a temporary folder (services.csv of long descriptions, about
`--mb` megabytes; organizations.csv; locations.csv; service_at_locations.csv), migrates a
scratch SQLite database in one subprocess, then runs `flask directory import-hsds` in another
and prints the peak RSS of the child processes (`getrusage(RUSAGE_CHILDREN).ru_maxrss`: the
largest of the two, the import) and the import's wall time. The CLI also rebuilds the search
index after a real import; `--dry-run` leaves that out (and the commit), so the two runs show
what the import itself holds.
"""

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 300  # the bar for a 50 MB CSV

WORDS = (
    "food pantry rent help job training shelter clothing clinic counseling legal aid transport "
    "childcare seniors veterans youth families housing utility assistance meals groceries "
    "appointment walk-in bring identification proof of address income county residents free "
    "sliding scale volunteers weekdays evenings spanish interpreter wheelchair accessible"
).split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def write_package(folder: Path, megabytes: float, seed: int = 7) -> tuple[Path, int]:
    """An HSDS 3.0 CSV package whose services.csv is about `megabytes` MB; (folder, services)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    organizations = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(2000)]
    with (folder / "organizations.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "name", "description", "email", "website"])
        for index, org in enumerate(organizations):
            writer.writerow(
                [org, f"Organization {index}", _text(rng, 30), f"o{index}@example.org", ""]
            )
    services = 0
    limit = megabytes * 1024 * 1024
    header = [
        "id",
        "organization_id",
        "name",
        "alternate_name",
        "description",
        "status",
        "fees_description",
        "eligibility_description",
        "application_process",
        "email",
    ]
    ids = []
    with (folder / "services.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        while stream.tell() < limit:
            service = uuid.UUID(int=rng.getrandbits(128), version=4)
            ids.append(service)
            writer.writerow(
                [
                    service,
                    rng.choice(organizations),
                    f"Service {services} {_text(rng, 3)}",
                    "",
                    _text(rng, 120),
                    "active",
                    _text(rng, 10),
                    _text(rng, 25),
                    _text(rng, 20),
                    f"s{services}@example.org",
                ]
            )
            services += 1
    with (folder / "locations.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "organization_id", "name", "latitude", "longitude"])
        for index, service in enumerate(ids):
            writer.writerow(
                [service, organizations[index % len(organizations)], f"Site {index}", "", ""]
            )
    with (folder / "service_at_locations.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "service_id", "location_id"])
        for service in ids:
            writer.writerow([service, service, service])
    return folder, services


def _zip(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of services.csv in MB")
    parser.add_argument("--zip", action="store_true", help="import the package as a .zip")
    parser.add_argument("--dry-run", action="store_true", help="import with --dry-run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as scratch:
        scratch_path = Path(scratch)
        folder, services = write_package(scratch_path / "bench-package", args.mb)
        size = (folder / "services.csv").stat().st_size / 1024 / 1024
        target = _zip(folder) if args.zip else folder
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch_path / 'bench.db'}",
            "SEARCH_INDEX_DIR": str(scratch_path / "index"),
            "IMPORT_REPORT_DIR": str(scratch_path / "reports"),
            "SECRET_KEY": "bench",
        }
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True)
        migrate_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        command = [*flask, "directory", "import-hsds", str(target)]
        if args.dry_run:
            command.append("--dry-run")
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            sys.exit(f"the import failed (exit {done.returncode})")
        kind = "zip" if args.zip else "folder"
        print(f"services.csv: {size:.1f} MB, {services} services ({kind})")
        print(f"import{' --dry-run' if args.dry_run else ''}: {seconds:.1f} s wall")
        print(f"peak RSS: {peak:.0f} MB (migration alone: {migrate_peak:.0f} MB)")
        print(f"target: under {TARGET_MB} MB: {'met' if peak < TARGET_MB else 'NOT met'}")


if __name__ == "__main__":
    main()
