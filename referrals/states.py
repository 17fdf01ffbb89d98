"""The referral state machine: statuses, actions, who may take them, and the transition table.

Pure Python (no Flask, no database) so the whole table can be tested exhaustively.

Statuses and the FHIR Task statuses of the HL7 Gravity SDOH Clinical Care IG
(a referral is a ServiceRequest fulfilled through a Task owned by the receiving agency):

    sent       -> requested  the agency has been asked and has not answered yet
    accepted   -> accepted   the agency has taken it on
    declined   -> rejected   the agency will not take it (Task.statusReason = our decline reason)
    cancelled  -> cancelled  withdrawn by the coordinator (also when the member's consent is
                             revoked while it waits), or stopped once accepted by either side
    forwarded  -> rejected   the agency passed it to another service; the original Task is closed
                             (businessStatus "forwarded") and a NEW linked Task in `requested` is
                             created for the other agency (`forwarded_to_id`/`forwarded_from_id`)
    completed  -> completed  the agency recorded an outcome, except:
    completed with outcome `not_provided` -> failed  (the help was not given: `fhir_task_status`)

We keep "failed" as an outcome of `completed` rather than a status of its own: the loop is closed
either way (nobody has anything left to do), and the outcome is what reports group by.

Overdue is not a status: it is a flag on a `sent` referral whose response window has passed, and the
referral stays actionable (it can still be accepted, declined, forwarded or cancelled).
"""

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    sent = "sent"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"
    forwarded = "forwarded"
    completed = "completed"


class Action(enum.StrEnum):
    send = "send"
    accept = "accept"
    decline = "decline"
    cancel = "cancel"
    forward = "forward"
    complete = "complete"


class Side(enum.StrEnum):
    """Which end of the referral a person acts for."""

    sending = "sending"  # the coordinator's organization
    receiving = "receiving"  # the agency the referral was sent to


OPEN_STATUSES = frozenset({Status.sent, Status.accepted})
CLOSED_STATUSES = frozenset(Status) - OPEN_STATUSES


class DeclineReason(enum.StrEnum):
    not_eligible = "not_eligible"
    no_capacity = "no_capacity"
    service_not_offered = "service_not_offered"
    out_of_area = "out_of_area"
    unable_to_contact = "unable_to_contact"
    member_declined = "member_declined"
    already_enrolled = "already_enrolled"
    duplicate = "duplicate"
    other = "other"


class CancelReason(enum.StrEnum):
    member_declined = "member_declined"
    need_met_elsewhere = "need_met_elsewhere"
    unable_to_contact = "unable_to_contact"
    member_moved = "member_moved"
    sent_in_error = "sent_in_error"
    duplicate = "duplicate"
    other = "other"
    consent_revoked = "consent_revoked"  # set when the member revokes consent; nobody picks it


# The reasons a person may give when cancelling.
CHOSEN_CANCEL_REASONS = tuple(r for r in CancelReason if r != CancelReason.consent_revoked)


class Outcome(enum.StrEnum):
    service_provided = "service_provided"
    partially_provided = "partially_provided"
    waitlisted = "waitlisted"
    not_provided = "not_provided"
    unable_to_contact = "unable_to_contact"
    member_declined = "member_declined"


class Urgency(enum.StrEnum):
    routine = "routine"
    urgent = "urgent"
    emergency = "emergency"


# Reasons whose meaning is only clear with a sentence of text beside them.
REASONS_NEEDING_TEXT = frozenset({DeclineReason.other, CancelReason.other, Outcome.not_provided})


@dataclass(frozen=True)
class Transition:
    to: Status
    sides: frozenset[Side]


_AGENCY = frozenset({Side.receiving})
_COORDINATOR = frozenset({Side.sending})
_EITHER = frozenset({Side.sending, Side.receiving})

# (current status, action) -> where it goes and who may do it. `None` is "not created yet".
TRANSITIONS: dict[tuple[Status | None, Action], Transition] = {
    (None, Action.send): Transition(Status.sent, _COORDINATOR),
    (Status.sent, Action.accept): Transition(Status.accepted, _AGENCY),
    (Status.sent, Action.decline): Transition(Status.declined, _AGENCY),
    (Status.sent, Action.forward): Transition(Status.forwarded, _AGENCY),
    (Status.sent, Action.cancel): Transition(Status.cancelled, _COORDINATOR),
    (Status.accepted, Action.complete): Transition(Status.completed, _AGENCY),
    (Status.accepted, Action.cancel): Transition(Status.cancelled, _EITHER),
}

# What each action is called in a sentence ("already accepted").
PAST_TENSE = {
    Action.send: "sent",
    Action.accept: "accepted",
    Action.decline: "declined",
    Action.cancel: "cancelled",
    Action.forward: "forwarded",
    Action.complete: "completed",
}


class IllegalTransition(Exception):
    """The action cannot be taken from the referral's current status."""

    def __init__(self, current: Status | None, action: Action):
        self.current = current
        self.action = action
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == current)
        where = f"a referral that is {current.value}" if current else "a referral not yet sent"
        hint = f" (possible: {', '.join(allowed)})" if allowed else " (it is closed)"
        super().__init__(f"cannot {action.value} {where}{hint}")


class SideNotAllowed(Exception):
    """The action exists from this status, but not for the side the person acts for."""

    def __init__(self, current: Status | None, action: Action, side: Side | None):
        self.current, self.action, self.side = current, action, side
        who = " or ".join(
            "the receiving agency" if s == Side.receiving else "the sending coordinator"
            for s in sorted(TRANSITIONS[(current, action)].sides)
        )
        super().__init__(f"only {who} can {action.value} this referral")


def next_status(current: Status | None, action: Action, side: Side | None = None) -> Status:
    """Where `action` takes a referral in status `current`; refuses what the table does not allow.

    With `side`, also refuses an action that the other side of the referral owns.
    """
    current = Status(current) if current is not None else None
    action = Action(action)
    transition = TRANSITIONS.get((current, action))
    if transition is None:
        raise IllegalTransition(current, action)
    if side is not None and side not in transition.sides:
        raise SideNotAllowed(current, action, side)
    return transition.to


def allowed_actions(current: Status | None, side: Side | None) -> list[Action]:
    """The actions a side may take now, in table order: what the screens offer as buttons."""
    return [
        action
        for (status, action), transition in TRANSITIONS.items()
        if status == current and side in transition.sides
    ]


def is_open(status: Status | str) -> bool:
    """True while someone still has something to do (sent or accepted)."""
    return Status(status) in OPEN_STATUSES


def fhir_task_status(status: Status | str, outcome: Outcome | str | None = None) -> str:
    """The FHIR Task.status (Gravity SDOH Clinical Care IG) for a referral's status and outcome."""
    status = Status(status)
    if status == Status.completed and outcome == Outcome.not_provided:
        return "failed"
    return {
        Status.sent: "requested",
        Status.accepted: "accepted",
        Status.declined: "rejected",
        Status.cancelled: "cancelled",
        Status.forwarded: "rejected",
        Status.completed: "completed",
    }[status]


_LABEL_OVERRIDES = {
    "not_provided": "service not provided",
    "service_not_offered": "service not offered here",
    "out_of_area": "member lives outside the service area",
    "sent_in_error": "sent in error",
    "need_met_elsewhere": "need met elsewhere",
    "consent_revoked": "the member revoked their consent",
}


def label(value: str | None) -> str:
    """A reason, outcome or status as words for people ("no_capacity" -> "no capacity")."""
    if not value:
        return ""
    return _LABEL_OVERRIDES.get(str(value), str(value).replace("_", " "))
