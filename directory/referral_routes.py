"""How a referral reaches each listed service, for the public pages to say so truthfully.

The directory knows nothing of the referral network (it sits below it): the network registers a
lookup here (`register_lookup`), and the pages ask `routes_for` once per page. A service the
lookup does not name can still be referred by phone when its listing has a number.
"""

import uuid
from collections.abc import Callable, Collection

NETWORK, EMAIL, PHONE = "network", "email", "phone"

ROUTE_LABELS = {
    NETWORK: "Takes referrals in Wraparound",
    EMAIL: "Referrals by email",
    PHONE: "Call to refer",
}

_lookup: Callable[[Collection[uuid.UUID]], dict[uuid.UUID, str]] | None = None


def register_lookup(lookup: Callable[[Collection[uuid.UUID]], dict[uuid.UUID, str]]) -> None:
    """The network's answer, by service id: NETWORK (a joined agency) or EMAIL (an intake
    address); services it leaves out have neither."""
    global _lookup
    _lookup = lookup


def routes_for(service_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """NETWORK or EMAIL for the services that have one (nothing without a referral network)."""
    if _lookup is None or not service_ids:
        return {}
    return _lookup(service_ids)


def route_of(routes: dict, service, phone) -> str | None:
    """The route to show for one service: the looked-up one, else PHONE when it has a number."""
    return routes.get(service.id) or (PHONE if phone is not None else None)
