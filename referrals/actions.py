"""What a side does to a referral, listed once: for each action, the request fields it reads and
the service that carries it out.

The referral page and the API both dispatch through ACTIONS: each turns its own request (a form,
a JSON body) into the values, calls `run`, and shapes its own answer. The keys are the last part of
the URL (`/referrals/<id>/accept`); the steps of the state machine are its `Action`s, and
`messages` writes in the thread between the two sides.
"""

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from accounts.models import User
from directory.models import Service
from extensions import db
from referrals import services
from referrals.errors import InvalidInput
from referrals.models import Referral, ReferralMessage
from referrals.states import Action
from referrals.web import parse_uuid


class Field(enum.Enum):
    text = "text"  # text or a choice's value, passed on as sent (the service checks it)
    service = "service"  # a directory service's id: the request's reader finds the Service


@dataclass(frozen=True)
class ReferralAction:
    """One entry of ACTIONS: the request fields the action reads, and the service that does it.

    `run(referral, actor, values)` gets each field's value by name (a `Field.service` field as
    the Service, or None when there is no such service) and returns what the service returns.
    """

    fields: Mapping[str, Field]
    run: Callable[[Referral, User, Mapping], object]


def _accept(referral: Referral, actor: User, values: Mapping) -> Referral:
    return services.accept(referral, actor, note=values.get("note"))


def _decline(referral: Referral, actor: User, values: Mapping) -> Referral:
    return services.decline(referral, actor, reason=values.get("reason"), text=values.get("note"))


def _cancel(referral: Referral, actor: User, values: Mapping) -> Referral:
    return services.cancel(referral, actor, reason=values.get("reason"), text=values.get("note"))


def _forward(referral: Referral, actor: User, values: Mapping) -> Referral:
    return services.forward(referral, actor, values.get("service_id"), note=values.get("note"))


def _complete(referral: Referral, actor: User, values: Mapping) -> Referral:
    return services.complete(
        referral, actor, outcome=values.get("outcome"), text=values.get("note")
    )


def _post_message(referral: Referral, actor: User, values: Mapping) -> ReferralMessage:
    return services.post_message(referral, actor, values.get("body"))


MESSAGES = "messages"

ACTIONS: dict[str, ReferralAction] = {
    Action.accept: ReferralAction({"note": Field.text}, _accept),
    Action.decline: ReferralAction({"reason": Field.text, "note": Field.text}, _decline),
    Action.cancel: ReferralAction({"reason": Field.text, "note": Field.text}, _cancel),
    Action.forward: ReferralAction({"service_id": Field.service, "note": Field.text}, _forward),
    Action.complete: ReferralAction({"outcome": Field.text, "note": Field.text}, _complete),
    MESSAGES: ReferralAction({"body": Field.text}, _post_message),
}

STEPS = tuple(name for name in ACTIONS if name != MESSAGES)
"""The actions that move a referral along the state machine (every one but `messages`)."""


def run_from_form(actor, referral: Referral, name: str, form: Mapping) -> object:
    """Do the action `name` with what a form sent (the inbox, the referral page, an email link's
    page): each field as the action reads it, a service to forward to one the directory has."""
    action = ACTIONS[name]
    values = {}
    for field, kind in action.fields.items():
        if kind is Field.service:
            service_id = parse_uuid(form.get(field))
            values[field] = db.session.get(Service, service_id) if service_id else None
            if values[field] is None:
                raise InvalidInput({field: "Choose the service to forward it to."})
        else:
            values[field] = form.get(field)
    return action.run(referral, actor, values)
