"""The pages an emailed link opens: one referral, for an agency with no account.

`/r/<token>` shows the referral as the agency may see it; its forms post back under the same
token (CSRF-protected like every form) to accept, decline, forward, record the outcome or write
to the coordinator, through the same services as the inbox. A token nobody was given is a 404
that tells nothing; a real link that is expired, withdrawn, or whose referral is closed is a 410
that says so and offers to ask the coordinator for a new one. Every view and action is in the
audit log with the link's id, the address and the browser. The token is in the path, so these
pages send no Referer and are never cached; lookups are rate-limited per address.
"""

from flask import Blueprint, abort, redirect, render_template, request, url_for

from extensions import db, utcnow
from referrals import access, actions, audit, links, next_best, services
from referrals.actors import LinkActor
from referrals.errors import Forbidden, ReferralError
from referrals.models import AuditAction, AuditObject
from referrals.states import CHOSEN_CANCEL_REASONS, Action, DeclineReason, Outcome, label
from referrals.views import FIELD_LABELS
from referrals.web import token_pages
from web.unit_of_work import commit_step, discard

bp = token_pages(Blueprint("referral_links", __name__))

DONE = {
    Action.accept: "You accepted the referral. The coordinator has been told.",
    Action.decline: "You declined the referral. The coordinator has been told, with your reason.",
    Action.forward: "You forwarded the referral. The coordinator has been told where it went.",
    Action.complete: "The outcome is recorded and the referral is closed. Thank you.",
    Action.cancel: "The referral is stopped. The coordinator has been told why.",
}


@bp.errorhandler(links.LinkGone)
def _gone(gone: links.LinkGone):
    """The 410 page: what happened to the link, and the "ask for a new link" button."""
    holder = LinkActor(gone.link.id, gone.link.referral_id, gone.link.sent_to)
    audit.record(
        holder,
        AuditAction.denied,
        AuditObject.referral,
        gone.link.referral_id,
        {"via": "email link", "link": gone.reason},
    )
    commit_step()  # the 410 answer would roll it back: the denied use stays in the audit log
    page = render_template(
        "referrals/link_gone.html",
        message=links.gone_message(gone),
        reason=gone.reason,
        token=request.view_args["token"],
    )
    return page, 410


def _page(opened: links.OpenedLink, status: int = 200, **extra):
    referral = opened.referral
    allowed = [a.value for a in access.actions_for(opened.actor, referral)]
    token = request.view_args["token"]
    page = render_template(
        "referrals/link.html",
        referral=referral,
        view=services.link_member_view(referral),
        field_labels=FIELD_LABELS,
        coordinator=links.coordinator_contact(referral),
        actions=allowed,
        forward_q=_forward_q(),
        forward_choices=next_best.forward_choices(referral, _forward_q())
        if "forward" in allowed
        else [],
        forward_picker_url=url_for(".forward_search", token=token),
        forward_page_url=url_for(".show", token=token),
        decline_reasons=list(DeclineReason),
        cancel_reasons=list(CHOSEN_CANCEL_REASONS),
        outcomes=list(Outcome),
        action_url=lambda action: url_for(".act", token=token, action=action),
        message_url=url_for(".post_message", token=token),
        link_holder=True,
        now=utcnow(),
        side="receiving",
        error=extra.pop("error", None),
        message_error=extra.pop("message_error", None),
        **extra,
    )
    return page, status


def _record_view(opened: links.OpenedLink) -> None:
    referral = opened.referral
    audit.record(
        opened.actor, AuditAction.view, AuditObject.referral, referral.id, {"via": "email link"}
    )
    audit.record(
        opened.actor,
        AuditAction.view,
        AuditObject.member,
        referral.member_id,
        {"via": "email link:referral"},
    )


@bp.get("/r/<token>")
def show(token: str):
    """The referral, as an agency that has not joined may see it, and what it can do next."""
    opened = links.open_link(token)
    _record_view(opened)
    return _page(opened)


@bp.post(f"/r/<token>/<any({', '.join(actions.STEPS)}):action>")
def act(token: str, action: str):
    """Accept, decline, forward, record the outcome (or stop) the link's referral."""
    opened = links.open_link(token)
    referral_id = opened.referral.id
    try:
        actions.run_from_form(opened.actor, opened.referral, action, request.form)
    except Forbidden:
        abort(403)
    except ReferralError as exc:
        discard()  # the refused step; the page below explains it (its 4xx writes nothing)
        error = {
            "action": action,
            "message": exc.message,
            "fields": getattr(exc, "fields", {}),
            "values": request.form.to_dict(),
        }
        opened = links.open_link(token)  # the referral may have closed meanwhile: still shown
        return _page(opened, exc.status, error=error)
    referral = db.session.get(type(opened.referral), referral_id)
    if referral.is_open:
        opened = links.open_link(token)
        return _page(opened, done=DONE[Action(action)])
    page = render_template(
        "referrals/link_done.html",
        referral=referral,
        message=DONE[Action(action)],
        status=label(referral.status),
        coordinator=links.coordinator_contact(referral),
    )
    return page, 200


@bp.post("/r/<token>/messages")
def post_message(token: str):
    """Write to the coordinator who sent the referral."""
    opened = links.open_link(token)
    try:
        actions.run_from_form(opened.actor, opened.referral, actions.MESSAGES, request.form)
    except ReferralError as exc:
        discard()  # the refused message; the page below explains it (its 4xx writes nothing)
        fields = getattr(exc, "fields", {})
        error = {"message": fields.get("body", exc.message), "body": request.form.get("body")}
        opened = links.open_link(token)
        return _page(opened, 400, message_error=error)
    opened = links.open_link(token)
    return _page(opened, done="Your message is on its way to the coordinator.")


def _forward_q() -> str:
    return (request.values.get("forward_q") or "").strip()[:200]


@bp.get("/r/<token>/forward-services")
def forward_search(token: str):
    """The forward picker's matches for the typed words (htmx); a plain GET goes back to the
    link's page, which lists them under its forward form."""
    opened = links.open_link(token)
    referral = opened.referral
    if Action.forward not in access.actions_for(opened.actor, referral):
        abort(403)
    if request.headers.get("HX-Request") != "true":
        target = url_for(".show", token=token, forward_q=_forward_q())
        return redirect(f"{target}#forward-{referral.id}", code=303)
    page = render_template(
        "referrals/_forward_choices.html",
        rid=referral.id,
        forward_q=_forward_q(),
        forward_choices=next_best.forward_choices(referral, _forward_q()),
    )
    return page, 200


@bp.post("/r/<token>/new-link")
def ask_for_new_link(token: str):
    """A dead link's holder asks the coordinator for a new one (at most once an hour)."""
    link = links.find_link(token)
    asked = links.request_new_link(link)
    page = render_template("referrals/link_asked.html", asked=asked)
    return page, 200 if asked else 429
