"""What each HSDS service status allows, decided once on `Service`, and nothing else deciding it.

Search and listings find active and temporarily closed services; every status but defunct keeps
its page (with a notice) and referral form; only an active service takes referrals.
"""

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from directory.models import Service, ServiceStatus
from tests.directory.factories import make_organization

ROOT = Path(__file__).resolve().parents[2]

# status: (is_listed, is_shown, takes_referrals)
RULES = {
    ServiceStatus.active: (True, True, True),
    ServiceStatus.temporarily_closed: (True, True, False),
    ServiceStatus.inactive: (False, True, False),
    ServiceStatus.defunct: (False, False, False),
}


def test_the_statuses_are_the_hsds_strings_the_database_allows():
    assert [s.value for s in ServiceStatus] == [
        "active",
        "inactive",
        "defunct",
        "temporarily closed",
    ]
    checks = [str(getattr(c, "sqltext", "")) for c in Service.__table__.constraints]
    status_check = next(text for text in checks if text.startswith("status IN"))
    assert set(re.findall(r"'([^']+)'", status_check)) == set(ServiceStatus)
    assert set(RULES) == set(ServiceStatus)


@pytest.mark.parametrize("status", list(ServiceStatus))
def test_what_a_status_allows_on_a_service(status):
    service = Service(status=status.value)
    assert (service.is_listed, service.is_shown, service.takes_referrals) == RULES[status]


def test_the_same_rules_filter_queries(db):
    org = make_organization(db)
    for status in ServiceStatus:
        db.session.add(Service(organization_id=org.id, name=status.value, status=status.value))
    db.session.commit()

    def names(condition) -> set[str]:
        return set(db.session.scalars(select(Service.name).where(condition)))

    assert names(Service.is_listed) == {s for s, rule in RULES.items() if rule[0]}
    assert names(Service.is_shown) == {s for s, rule in RULES.items() if rule[1]}
    assert names(Service.takes_referrals) == {s for s, rule in RULES.items() if rule[2]}


# -- no code outside directory/models.py spells a service status out in a comparison ---------

_STATUS_WORDS = {s.value for s in ServiceStatus}
_APP_PARTS = ("directory", "referrals", "accounts", "admin", "web", "geo", "bench")


def _spelled_statuses(node: ast.AST) -> bool:
    """A string constant naming a status, alone or inside a tuple, list or set."""
    if isinstance(node, ast.Constant):
        return node.value in _STATUS_WORDS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_spelled_statuses(e) for e in node.elts)
    return False


def _status_comparisons(file: Path) -> list[int]:
    """Lines comparing with a status literal: `==`/`!=`/`in` or a SQL `.in_(...)`."""
    lines = []
    for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_spelled_statuses(o) for o in operands):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"in_", "not_in", "notin_"}
            and any(_spelled_statuses(a) for a in node.args)
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_compares_a_service_status_to_a_literal():
    files = [f for part in _APP_PARTS for f in sorted((ROOT / part).rglob("*.py"))]
    found = {
        str(f.relative_to(ROOT)): lines
        for f in files
        if f != ROOT / "directory" / "models.py" and (lines := _status_comparisons(f))
    }
    assert found == {}


_WORDS = "|".join(re.escape(w) for w in _STATUS_WORDS)
_TEMPLATE_COMPARISON = re.compile(rf"""status\s*(==|!=|\bin\b)\s*[("'\[]*\s*["']({_WORDS})["']""")


def test_no_template_compares_a_status_to_a_literal():
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _TEMPLATE_COMPARISON.search(line)
    ]
    assert found == []


def test_the_literal_check_catches_a_comparison(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "ok = service.status == ServiceStatus.active\n"
        'bad = service.status != "defunct"\n'
        'worse = Service.status.in_(("active", "temporarily closed"))\n'
    )
    assert _status_comparisons(sample) == [2, 3]
    assert _TEMPLATE_COMPARISON.search('{% if service.status == "temporarily closed" %}')
    assert not _TEMPLATE_COMPARISON.search("{% if service.status == ServiceStatus.inactive %}")
