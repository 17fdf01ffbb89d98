"""The member's status page: `/s/<token>`, opened from a status message, with no account.

It shows where the member was referred and what has happened, in their language where a
catalog exists (referrals/member_status.py). A token nobody was given is the generic 404; a
link that expired or was replaced is a 410 saying so, in the member's language, and who to ask
for a new one. Every view is in the audit log with the link's id, the address and the browser.
The token is in the path, so the page sends no Referer and is never cached; lookups are
rate-limited per address, like the agencies' links.
"""

from flask import Blueprint, render_template

from referrals import audit, links, member_status
from referrals.actors import MemberLinkActor
from referrals.member_messages import Words, language_of
from referrals.models import AuditAction, AuditObject, MemberStatusLink
from referrals.web import token_pages
from web.unit_of_work import commit_step

bp = token_pages(Blueprint("member_status", __name__))


def _audit(status_link: MemberStatusLink, action, object_type, object_id, **detail) -> None:
    audit.record(
        MemberLinkActor(status_link.id, status_link.member_id),
        action,
        object_type,
        object_id,
        {"via": "member status link", "status_link_id": str(status_link.id), **detail},
    )


@bp.get("/s/<token>")
def show(token: str):
    """Where the member's referral stands, in plain words and their language."""
    try:
        link = member_status.open_status_link(token)
    except member_status.StatusLinkGone as gone:
        return _gone(gone)
    page = member_status.status_page(link)
    _audit(link, AuditAction.view, AuditObject.member, link.member_id)
    for referral_id in page.referral_ids:
        _audit(link, AuditAction.view, AuditObject.referral, referral_id)
    return render_template("referrals/status.html", page=page, t=page.words), 200


def _gone(gone: member_status.StatusLinkGone):
    """The 410 page: why the link no longer opens, and who to ask for a new one."""
    link = gone.link
    _audit(link, AuditAction.denied, AuditObject.member, link.member_id, link=gone.reason)
    commit_step()  # the 410 answer would roll it back: the refused use stays in the audit log
    words = Words(language_of(link.member.preferred_language))
    page = render_template(
        "referrals/status_gone.html",
        t=words,
        reason=gone.reason,
        coordinator=links.coordinator_contact(link.referral),
    )
    return page, 410
