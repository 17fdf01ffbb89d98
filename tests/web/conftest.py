"""The web plumbing is tested through real endpoints of every domain: reuse the referral network."""

from tests.referrals.conftest import (  # noqa: F401  (fixtures)
    api,
    create_member,
    member,
    network,
    referral,
)
