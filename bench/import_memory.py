"""Import memory benchmark: peak RSS and wall time of importing a package with a ~50 MB CSV.

    .venv/bin/python bench/import_memory.py                 # ~50 MB services.csv, on SQLite
    .venv/bin/python bench/import_memory.py --mb 20 --zip   # smaller, imported from a .zip
    .venv/bin/python bench/import_memory.py --only dry-run  # one of the two imports

Builds an HSDS 3.0 CSV package in a temporary folder (services.csv of long descriptions, about
`--mb` megabytes; organizations.csv; locations.csv; service_at_locations.csv), migrates a
scratch SQLite database in one subprocess, then runs `flask directory import-hsds --dry-run`
(read, check, write, roll back) and `flask directory import-hsds` (the same, committed, then the
search index rebuilt) each in a subprocess of its own, and prints each one's peak RSS
(`ru_maxrss` of the waited-for child, read through a wrapper: `python -c` runs the command
and reports its own peak), CPU time and wall time. The app alone (the migration) is printed too.
"""

import argparse
import csv
import json
import os
import random
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


# Runs a command and prints, as its last line, the peak RSS (MB) and CPU seconds of it and its
# children: the wrapper's own RUSAGE_CHILDREN counts only what it waited for.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
used = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(done.stderr[-3000:] if done.returncode else "")
print(json.dumps({"rc": done.returncode, "peak_mb": used.ru_maxrss / 1024,
                  "cpu_s": used.ru_utime + used.ru_stime, "out": done.stdout[-3000:]}))
"""


def _measured(command: list[str], env: dict) -> dict:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - started
    if result["rc"]:
        print(result["out"], done.stderr, file=sys.stderr)
        sys.exit(f"{' '.join(command[3:])} failed (exit {result['rc']})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of services.csv in MB")
    parser.add_argument("--zip", action="store_true", help="import the package as a .zip")
    parser.add_argument(
        "--only", choices=("dry-run", "import"), help="run one of the two imports, not both"
    )
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
        app_alone = _measured([*flask, "db", "upgrade"], env)
        kind = "zip" if args.zip else "folder"
        print(f"services.csv: {size:.1f} MB, {services} services ({kind})")
        print(f"app alone (flask db upgrade): peak RSS {app_alone['peak_mb']:.0f} MB")
        runs = [("dry-run", ["--dry-run"]), ("import", [])]
        met = True
        for name, extra in runs:
            if args.only and name != args.only:
                continue
            command = [*flask, "directory", "import-hsds", str(target), *extra]
            result = _measured(command, env)
            what = "import --dry-run" if extra else "import + index rebuild"
            met = met and result["peak_mb"] < TARGET_MB
            print(
                f"{what}: peak RSS {result['peak_mb']:.0f} MB, CPU {result['cpu_s']:.1f} s, "
                f"wall {result['wall_s']:.1f} s"
            )
        print(f"target: under {TARGET_MB} MB: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
