"""Issue 8, item 7: each request and each CLI command is one unit of work. It commits once when it
succeeds; an error, raised or answered (a form re-rendered with 4xx), leaves nothing written."""

import ast
from pathlib import Path

import click
import pytest
from flask import abort
from sqlalchemy import event, select

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def commits(app):
    """How many times the session committed (a list the test reads)."""
    from extensions import db

    seen = []

    def count(session):
        seen.append(session)

    # Every request gets a new scoped session: listen on the class the factory builds.
    session_class = db.session.session_factory.class_
    event.listen(session_class, "after_commit", count)
    yield seen
    event.remove(session_class, "after_commit", count)


def _add_organization(name: str) -> None:
    from directory.models import Organization
    from extensions import db

    db.session.add(Organization(name=name))
    db.session.flush()


def _organizations(app) -> list[str]:
    from directory.models import Organization
    from extensions import db

    with app.app_context():
        names = db.session.scalars(select(Organization.name).order_by(Organization.name)).all()
        db.session.remove()
    return list(names)


@pytest.fixture
def routes(app):
    """Views that write an organization and then succeed, fail or refuse."""

    def written():
        _add_organization("Written")
        return "ok", 201

    def raises():
        _add_organization("Raised")
        raise RuntimeError("the view fails after writing")

    def form_error():
        _add_organization("Refused")
        return "Please correct the form", 422

    def aborts():
        _add_organization("Aborted")
        abort(409)

    for view in (written, raises, form_error, aborts):
        app.add_url_rule(f"/_uow/{view.__name__}", view.__name__, view, methods=["POST"])
    return app


def test_a_successful_post_is_committed_once(routes, client, commits):
    response = client.post("/_uow/written")

    assert response.status_code == 201
    assert len(commits) == 1
    assert _organizations(routes) == ["Written"]


def test_a_view_that_raises_after_writing_leaves_nothing(routes, client, commits):
    response = client.post("/_uow/raises")

    assert response.status_code == 500
    assert commits == []
    assert _organizations(routes) == []


@pytest.mark.parametrize(("endpoint", "status"), [("form_error", 422), ("aborts", 409)])
def test_an_error_answer_leaves_nothing_written(routes, client, commits, endpoint, status):
    response = client.post(f"/_uow/{endpoint}")

    assert response.status_code == status
    assert commits == []
    assert _organizations(routes) == []


def test_a_failed_commit_gets_the_error_handlers_answer(app, client):
    """The commit happens inside the view call: the database refusing it is answered like any
    error (here a duplicate primary key: the generic 500 page, not a traceback)."""
    import uuid

    from directory.models import Organization
    from extensions import db

    taken = uuid.uuid4()
    with app.app_context():
        db.session.add(Organization(id=taken, name="First"))
        db.session.commit()
        db.session.remove()

    def duplicate():
        db.session.add(Organization(id=taken, name="Second"))  # flushed only by the commit
        return "ok"

    app.add_url_rule("/_uow/duplicate", "duplicate", duplicate, methods=["POST"])
    response = client.post("/_uow/duplicate")

    assert response.status_code == 500
    assert b"Traceback" not in response.data
    assert _organizations(app) == ["First"]


# -- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def commands(app):
    from web.unit_of_work import UnitOfWorkGroup

    group = UnitOfWorkGroup("uow-test")

    @group.command("write")
    @click.argument("name")
    def write(name):
        _add_organization(name)
        click.echo("written")

    @group.command("fail")
    def fail():
        _add_organization("Half done")
        raise click.ClickException("the command failed after writing")

    app.cli.add_command(group)
    return app


def test_a_cli_command_that_returns_is_committed_once(commands, commits):
    result = commands.test_cli_runner().invoke(args=["uow-test", "write", "Kept"])

    assert result.exit_code == 0, result.output
    assert len(commits) == 1
    assert _organizations(commands) == ["Kept"]


def test_a_cli_command_that_fails_rolls_back(commands, commits):
    result = commands.test_cli_runner().invoke(args=["uow-test", "fail"])

    assert result.exit_code == 1
    assert "the command failed" in result.output
    assert commits == []
    assert _organizations(commands) == []


# -- the rule stays true -------------------------------------------------------------------

# Modules that commit on their own terms: the search engine commits its Whoosh writer, which is
# no database session.
ALLOWED = {"directory/search/whoosh_engine.py"}
CHECKED = ("accounts", "referrals", "directory", "admin")


def _commits_and_rollbacks(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]


def test_no_domain_module_commits_or_rolls_back_by_hand():
    """Views, services and commands leave the commit to web.unit_of_work (commit_step() where a
    step must be committed on purpose)."""
    found = {}
    for part in CHECKED:
        for path in sorted((ROOT / part).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name not in ALLOWED and (lines := _commits_and_rollbacks(path)):
                found[name] = lines
    assert found == {}
