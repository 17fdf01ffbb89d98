"""The admin pages are tried on the referral network of tests/referrals: its people and records."""

from tests.referrals.conftest import (  # noqa: F401  (fixtures)
    create_member,
    member,
    network,
    referral,
)
