"""The browser journeys that need it use the referral network of tests/referrals: its people
and records."""

from tests.referrals.conftest import create_member, network  # noqa: F401  (fixtures)
