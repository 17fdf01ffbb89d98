"""The admin pages are tried on the referral network of tests/referrals: its people and records."""

from tests.referrals.conftest import (  # noqa: F401  (fixtures)
    create_member,
    hold_threads_before,
    member,
    network,
    on_two_hosts,
    referral,
)
