"""Typed refusals of the referral domain; each knows the HTTP status and code the API answers with.

Pages show `message` (and `fields`) to the person; the API returns
`{"error": {"code", "message", "fields"?}}` with `status`.
"""


class ReferralError(Exception):
    """Base of every refusal the referral services raise on purpose."""

    status = 400
    code = "invalid"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs):
        """A refusal names its status and code in its class line."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, code: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class InvalidInput(ReferralError):
    """Input that can't be used; `fields` maps each field name to what is wrong with it."""

    def __init__(self, fields: dict[str, str], message: str | None = None):
        names = ", ".join(sorted(fields))
        super().__init__(message or f"Please correct: {names}.", fields=fields)
        self.fields = fields


class NotFound(ReferralError, status=404, code="not_found"):
    """Missing, or not visible to this person (the two are never told apart)."""


class Forbidden(ReferralError, status=403, code="forbidden"):
    """The person can see the record but their role or side may not do this."""


class TransitionRefused(ReferralError, status=409, code="illegal_transition"):
    """The referral's status does not allow the action (often: someone else got there first)."""


class ConcurrentUpdate(TransitionRefused, code="conflict"):
    """Two people changed the same referral at once; this one lost."""


class DuplicateReferral(ReferralError, status=409, code="duplicate_referral"):
    """The member already has an open referral to this service; the caller must confirm."""


class ConsentProblem(ReferralError, status=422, code="consent_missing"):
    """No consent in force for the member: missing, expired or revoked."""


class NotReferrable(ReferralError, status=422, code="service_not_referrable"):
    """The service can't receive referrals now (not in the network, inactive, not accepting)."""


class NotAColleague(ReferralError, status=422, code="not_a_colleague"):
    """A referral assigned to someone who is not active staff of the receiving agency."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message, fields=fields)
        self.fields = fields
