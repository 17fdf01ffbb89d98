"""Addresses of the listing edit forms, for code outside them: a form opened pre-filled, e.g.
from a public suggestion, whose save links each logged change to that suggestion."""

import uuid
from urllib.parse import urlencode

from flask import url_for

SUGGESTION_PARAM = "suggestion_id"


def prefilled_edit_url(
    form: str, record_id: uuid.UUID, values: dict, suggestion_id=None, service_id=None
) -> str:
    """The edit page of a record with some inputs filled in (e.g. from a public suggestion);
    saving it links each logged change to `suggestion_id`.

    `form` is "organization", "service", "hours", "areas" (record_id: the service) or
    "location" (record_id: the location, service_id: its service). `values` are the form's
    input names ("phones", "MO_0_opens", "postal_code"...) and what to put in them.
    """
    endpoints = {
        "organization": ("listings.edit_organization", {"organization_id": record_id}),
        "service": ("listings.edit_service", {"service_id": record_id}),
        "hours": ("listings.edit_hours", {"service_id": record_id}),
        "areas": ("listings.edit_areas", {"service_id": record_id}),
        "location": (
            "listings.edit_location",
            {"service_id": service_id, "location_id": record_id},
        ),
    }
    endpoint, keys = endpoints[form]
    query = {f"prefill_{name}": value for name, value in values.items()}
    if suggestion_id is not None:
        query[SUGGESTION_PARAM] = str(suggestion_id)
    return url_for(endpoint, **keys) + ("?" + urlencode(query) if query else "")
