"""Validate JSON against the published HSDS 3.0 schemas (../shared/hsds/spec-3.0/schema).

`compiled/*.json` have every $ref inlined; taxonomy.json and taxonomy_term.json are validated from
the modular files through a registry. Formats are checked too (uuid, email, date...), as far as
jsonschema's format checker knows them.
"""

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parents[4] / "shared" / "hsds" / "spec-3.0" / "schema"
BASE = "https://hsds.invalid/schema/"


@cache
def _registry() -> Registry:
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        schema = json.loads(path.read_text())
        resource = Resource.from_contents(schema, default_specification=DRAFT202012)
        resources.append((BASE + path.name, resource))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for "compiled/service.json", "taxonomy.json", ... (paths under schema/)."""
    schema = json.loads((SCHEMA_DIR / name).read_text())
    if not name.startswith("compiled/"):
        schema = {**schema, "$id": BASE + name}
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(name: str, instance) -> None:
    """Fail with every schema error (path and message), not only the first."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
    assert not messages, f"{name}:\n" + "\n".join(messages[:20])
