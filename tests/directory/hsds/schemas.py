"""Validate JSON against the published HSDS 3.0 schemas (../shared/hsds/spec-3.0/schema).

`compiled/*.json` have every $ref inlined; taxonomy.json and taxonomy_term.json are validated from
the modular files through a registry. Formats are checked, strictly: jsonschema checks "uri" only
when rfc3987 is installed (a dev dependency; without it every string passes), checks "email" only
for an "@" and "date-time" only with another package, so those two are checked here.
"""

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
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


_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}$")  # one @, a dotted domain
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _email(instance) -> bool:
    return not isinstance(instance, str) or bool(_EMAIL.match(instance))


def _date_time(instance) -> bool:
    """RFC 3339 date-time: a date, a time and an offset, each in range."""
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.match(instance):
        return False
    datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))  # ValueError: out of range
    return True


@cache
def format_checker() -> FormatChecker:
    """Every format jsonschema knows, with uri required and email and date-time made strict."""
    checker = FormatChecker()
    if "uri" not in checker.checkers:
        raise RuntimeError("jsonschema can't check uri: install rfc3987 (a dev dependency)")
    checker.checks("email")(_email)
    checker.checks("date-time", raises=ValueError)(_date_time)
    return checker


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for "compiled/service.json", "taxonomy.json", ... (paths under schema/)."""
    schema = json.loads((SCHEMA_DIR / name).read_text())
    if not name.startswith("compiled/"):
        schema = {**schema, "$id": BASE + name}
    return Draft202012Validator(schema, registry=_registry(), format_checker=format_checker())


def assert_valid(name: str, instance) -> None:
    """Fail with every schema error (path and message), not only the first."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
    assert not messages, f"{name}:\n" + "\n".join(messages[:20])


@cache
def _page_validator() -> Draft202012Validator:
    document = json.loads((SCHEMA_DIR / "openapi.json").read_text())
    return Draft202012Validator(document["components"]["schemas"]["Page"])


def assert_valid_page(page) -> None:
    """Fail unless a list response's envelope is HSDS's Page (total_items, page_number...)."""
    messages = [e.message for e in _page_validator().iter_errors(page)]
    assert not messages, "Page:\n" + "\n".join(messages)
