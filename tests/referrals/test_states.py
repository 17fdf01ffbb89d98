"""The referral state machine, over every (status, action) pair and every side."""

import itertools

import pytest

from referrals.states import (
    CLOSED_STATUSES,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Outcome,
    Side,
    SideNotAllowed,
    Status,
    allowed_actions,
    fhir_task_status,
    is_open,
    label,
    next_status,
)

# The whole table as the product describes it, written out independently of TRANSITIONS.
EXPECTED = {
    (None, Action.send): (Status.sent, {Side.sending}),
    (Status.sent, Action.accept): (Status.accepted, {Side.receiving}),
    (Status.sent, Action.decline): (Status.declined, {Side.receiving}),
    (Status.sent, Action.forward): (Status.forwarded, {Side.receiving}),
    (Status.sent, Action.cancel): (Status.cancelled, {Side.sending}),
    (Status.accepted, Action.complete): (Status.completed, {Side.receiving}),
    (Status.accepted, Action.cancel): (Status.cancelled, {Side.sending, Side.receiving}),
}

ALL_PAIRS = list(itertools.product([None, *Status], Action))


@pytest.mark.parametrize(("current", "action"), ALL_PAIRS)
def test_every_status_and_action(current, action):
    expected = EXPECTED.get((current, action))
    if expected is None:
        with pytest.raises(IllegalTransition) as excinfo:
            next_status(current, action)
        assert excinfo.value.current == current and excinfo.value.action == action
        assert action.value in str(excinfo.value)
        for side in Side:
            with pytest.raises(IllegalTransition):
                next_status(current, action, side)
        return
    target, sides = expected
    assert next_status(current, action) == target
    for side in Side:
        if side in sides:
            assert next_status(current, action, side) == target
        else:
            with pytest.raises(SideNotAllowed, match=f"can {action.value} this referral"):
                next_status(current, action, side)


def test_table_has_no_transition_the_product_does_not_describe():
    assert {key: (t.to, set(t.sides)) for key, t in TRANSITIONS.items()} == EXPECTED


def test_closed_statuses_allow_nothing():
    for status in CLOSED_STATUSES:
        assert not is_open(status)
        for side in Side:
            assert allowed_actions(status, side) == []
    assert is_open("sent") and is_open("accepted")


def test_allowed_actions_per_side():
    assert allowed_actions(Status.sent, Side.receiving) == [
        Action.accept,
        Action.decline,
        Action.forward,
    ]
    assert allowed_actions(Status.sent, Side.sending) == [Action.cancel]
    assert allowed_actions(Status.accepted, Side.sending) == [Action.cancel]
    assert allowed_actions(Status.accepted, Side.receiving) == [Action.complete, Action.cancel]
    assert allowed_actions(Status.sent, None) == []


def test_illegal_transition_message_says_what_is_possible():
    with pytest.raises(IllegalTransition) as excinfo:
        next_status("sent", "complete")
    assert str(excinfo.value) == (
        "cannot complete a referral that is sent (possible: accept, cancel, decline, forward)"
    )
    with pytest.raises(IllegalTransition, match="it is closed"):
        next_status("declined", "accept")
    with pytest.raises(ValueError):
        next_status("lost", "accept")


@pytest.mark.parametrize(
    ("status", "outcome", "fhir"),
    [
        ("sent", None, "requested"),
        ("accepted", None, "accepted"),
        ("declined", None, "rejected"),
        ("cancelled", None, "cancelled"),
        ("forwarded", None, "rejected"),
        ("completed", "service_provided", "completed"),
        ("completed", "partially_provided", "completed"),
        ("completed", "not_provided", "failed"),
    ],
)
def test_fhir_task_status(status, outcome, fhir):
    assert fhir_task_status(status, outcome) == fhir


def test_every_outcome_maps_to_a_fhir_status():
    assert {fhir_task_status(Status.completed, o) for o in Outcome} == {"completed", "failed"}


def test_labels_read_as_words():
    assert label("no_capacity") == "no capacity"
    assert label("not_provided") == "service not provided"
    assert label(None) == ""
