"""Response windows in business days: weekends and listed holidays skipped, local time kept."""

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from referrals.deadlines import add_business_days, network_holidays

NEW_YORK = ZoneInfo("America/New_York")


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("sent", "days", "due"),
    [
        (_local(2026, 3, 2, 10, 0), 2, _local(2026, 3, 4, 10, 0)),  # Monday -> Wednesday
        (_local(2026, 3, 6, 15, 0), 2, _local(2026, 3, 10, 15, 0)),  # Friday -> Tuesday
        (_local(2026, 3, 7, 9, 30), 2, _local(2026, 3, 10, 9, 30)),  # Saturday -> Tuesday
        (_local(2026, 3, 8, 23, 0), 1, _local(2026, 3, 9, 23, 0)),  # Sunday night -> Monday
        (_local(2026, 3, 2, 10, 0), 5, _local(2026, 3, 9, 10, 0)),  # a whole week
    ],
)
def test_weekends_are_skipped(sent, days, due):
    assert add_business_days(sent.astimezone(UTC), days, NEW_YORK) == due.astimezone(UTC)


def test_the_weekday_is_judged_where_the_network_is():
    # Friday 9 pm in New York is already Saturday in UTC: still a Friday for the agency.
    friday_night = _local(2026, 3, 6, 21, 0).astimezone(UTC)
    assert add_business_days(friday_night, 1, NEW_YORK) == _local(2026, 3, 9, 21, 0)
    assert add_business_days(friday_night, 1, ZoneInfo("UTC")) == datetime(
        2026, 3, 9, 2, 0, tzinfo=UTC
    )


def test_clock_time_survives_a_daylight_saving_change():
    # US clocks go forward on Sunday 8 March 2026: 10 am stays 10 am local (14:00 UTC after).
    due = add_business_days(_local(2026, 3, 6, 10, 0), 1, NEW_YORK)
    assert due == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_holidays_are_skipped():
    holidays = frozenset({date(2026, 12, 25), date(2026, 1, 1)})
    sent = _local(2026, 12, 24, 11, 0)  # Thursday before Christmas
    assert add_business_days(sent, 2, NEW_YORK, holidays) == _local(2026, 12, 29, 11, 0)


def test_holidays_come_from_configuration(app):
    with app.app_context():
        assert network_holidays() == frozenset()
        app.config["REFERRAL_HOLIDAYS"] = "2026-12-25, 2027-01-01"
        assert network_holidays() == {date(2026, 12, 25), date(2027, 1, 1)}
        app.config["REFERRAL_HOLIDAYS"] = [date(2026, 7, 3), "2026-11-26"]
        assert network_holidays() == {date(2026, 7, 3), date(2026, 11, 26)}


def test_due_date_uses_the_agency_window_and_holidays(app, network, create_member, db):
    from referrals import services

    app.config["REFERRAL_HOLIDAYS"] = "2026-03-09"
    member = create_member()
    sent_at = _local(2026, 3, 6, 10, 0).astimezone(UTC)  # Friday; Monday the 9th is a holiday
    to_a = services.send_referral(
        network.coordinator_a, member, network.service_a, need="Food", now=sent_at
    )
    to_b = services.send_referral(
        network.coordinator_a, member, network.service_b, need="Bed", now=sent_at
    )
    assert to_a.due_at == _local(2026, 3, 11, 10, 0)  # 2 days: Tue, Wed
    assert to_b.due_at == _local(2026, 3, 12, 10, 0)  # agency B answers within 3


def test_each_state_change_is_logged(network, create_member, db, caplog):
    from referrals import services

    # Alembic's fileConfig (run by the test migrations) disables loggers that existed before it.
    logging.getLogger("referrals.services").disabled = False
    caplog.set_level(logging.INFO, logger="referrals.services")
    referral = services.send_referral(
        network.coordinator_a, create_member(), network.service_a, need="Food"
    )
    services.accept(referral, network.staff_a)
    messages = [r.getMessage() for r in caplog.records if r.name == "referrals.services"]
    assert f"referral {referral.id} sent by {network.coordinator_a.id}" in messages
    assert f"referral {referral.id} accepted by {network.staff_a.id}" in messages
