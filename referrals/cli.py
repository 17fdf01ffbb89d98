"""`flask referrals deliver` and `flask referrals sweep`: run from cron, on one host or several.

Each command is a unit of work (web.unit_of_work); delivery commits email by email on purpose."""

import click
from flask.cli import with_appcontext

from accounts import listings
from referrals import next_best, notifications, services
from web import idempotency
from web.unit_of_work import UnitOfWorkGroup, commit_step, unit_of_work

group = UnitOfWorkGroup(
    "referrals", help="Deliver queued emails and flag overdue referrals (cron jobs)."
)


@group.command("deliver")
@click.option("--limit", default=200, show_default=True, help="Most emails to try in this run.")
@click.option(
    "--retry-now",
    is_flag=True,
    help="Also retry emails still waiting out their backoff (e.g. the mail server is back).",
)
def deliver_command(limit: int, retry_now: bool) -> None:
    """Send the queued notification emails; failures stay queued and are retried with backoff."""
    report = notifications.deliver_pending(limit=limit, retry_now=retry_now)
    click.echo(
        f"sent {report.sent}, failed {report.failed} (will retry), gave up {report.gave_up}; "
        f"{notifications.pending_count()} waiting"
    )
    unsendable = notifications.pending_count(unsendable=True)
    if unsendable:
        click.echo(f"{unsendable} text message(s) wait for an SMS provider (SMS_BACKEND)")
    if report.stopped:
        click.echo(report.stopped)
    if report.errors:
        click.echo(f"last error: {report.errors[-1]}", err=True)


@group.command("sweep")
def sweep_command() -> None:
    """Flag referrals nobody answered in time, and accepted ones with no outcome by their
    deadline; queue one reminder to each side of each. Those sent with "re-send automatically"
    go to their next best service instead. Remind agency admins, once a month, of listings
    nobody verified for LISTING_STALE_DAYS. Also drop expired Idempotency-Keys."""
    # First, so a referral re-sent elsewhere (its original cancelled) gets no overdue reminder.
    escalated = next_best.sweep_escalations()
    commit_step()
    moved = sum(1 for _, new in escalated if new is not None)
    click.echo(f"{moved} unanswered referral(s) re-sent to their next best service")
    flagged = services.sweep_overdue()
    # Its own step: a failure below never holds back the answer reminders.
    commit_step()
    click.echo(f"{len(flagged)} referral(s) newly overdue")
    no_outcome = services.sweep_outcome_overdue()
    commit_step()  # likewise: the reminders never wait on the clean-up below
    click.echo(f"{len(no_outcome)} accepted referral(s) newly past their outcome deadline")
    reminded = listings.sweep_stale_reminders()
    commit_step()
    click.echo(f"{len(reminded)} agency(ies) reminded of listings to verify")
    # Expired Idempotency-Keys of users who haven't written since (a write purges its user's).
    purged = idempotency.purge_expired()  # committed when the command returns
    click.echo(f"{purged} expired idempotency key(s) removed")


@click.command("seed-demo")
@with_appcontext
@unit_of_work
def seed_demo_command() -> None:
    """Load the demo network (Syracuse, NY), its demo accounts and six months of its referral
    work; safe to run again. It joins the `directory` group (app.py): the directory imports
    neither accounts nor referrals, so the command lives at the top of the chain."""
    from accounts import demo as accounts_demo
    from directory.cli import update_search_index
    from directory.demo import seed_demo_directory
    from referrals import demo as referrals_demo

    summary = seed_demo_directory()
    accounts = accounts_demo.seed_demo_accounts()
    referrals = referrals_demo.seed_demo_referrals()
    commit_step()  # the search index reads committed rows, by another connection
    click.echo(f"Loaded the {summary}")
    click.echo(f"Demo accounts: {len(accounts)}")
    click.echo(str(referrals))
    if any(summary.added.values()):
        update_search_index()
    else:
        click.echo("Search index unchanged: no new demo records")
