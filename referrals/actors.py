"""Who acts on a referral when it is not a signed-in user: the holder of an emailed link.

Kept apart (no imports from the rest of referrals/) so the audit log, access rules and services
can all recognize it.
"""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkActor:
    """The person holding an agency's email link, acting for the receiving side of exactly one
    referral, with no account. `id` is None: events, messages and audit rows record no user, and
    name the link (`link_id`) instead."""

    link_id: uuid.UUID
    referral_id: uuid.UUID
    sent_to: str

    id = None
    full_name = ""
    organization_id = None
    role = None
    is_admin = False
    is_coordinator = False
    is_agency_user = False
    active = True

    @property
    def email(self) -> str:
        """How the audit log labels the actor: the link, not a person."""
        return f"email link {self.link_id}"

    @property
    def display_name(self) -> str:
        return f"the agency (by email link to {self.sent_to})"


@dataclass(frozen=True)
class MemberLinkActor:
    """The person holding a member's status link (referrals/member_status.py): they only read.
    Audit rows record no user and name the link (`status_link_id`) instead."""

    status_link_id: uuid.UUID
    member_id: uuid.UUID

    id = None

    @property
    def email(self) -> str:
        """How the audit log labels the actor: the link, not a person."""
        return f"member status link {self.status_link_id}"
