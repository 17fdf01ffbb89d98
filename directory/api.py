"""JSON search API: /api/v1/services (search) and /api/v1/services/<id> (one whole record).

    GET /api/v1/services?q=&near=&lat=&lon=&radius_km=&radius_mi=&category=&language=
                        &free=&open_now=&wheelchair=&page=&per_page=

`near` is a ZIP code, "City, ST" or "lat,lon"; `lat`+`lon` is the browser's location. Answers
{"total", "page", "per_page", "pages", "results": [...], "facets", "suggestion", "place"}.
Bad parameters are 400 and an unknown id 404, as {"error": {"code", "message"}}.
"""

import uuid
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from directory import result_cache, search
from directory.hsds import serialize as hsds_json
from directory.models import Service
from directory.search.crisis import Crisis
from directory.search.query import Place, SearchHit, SearchResults
from extensions import db
from geo.sql import km_to_miles
from web.errors import json_error

bp = Blueprint("directory_api", __name__, url_prefix="/api/v1")


def _error(status: int, code: str, message: str, field: str | None = None):
    extra = {"parameter": field} if field else {}
    return json_error(status, code, message, **extra)


def _location_json(location) -> dict[str, Any]:
    address = location.physical_address
    return {
        "id": str(location.id),
        "name": location.name,
        "address": address.one_line() if address else None,
        "latitude": float(location.latitude) if location.latitude is not None else None,
        "longitude": float(location.longitude) if location.longitude is not None else None,
    }


def hit_json(hit: SearchHit, place: Place | None) -> dict[str, Any]:
    """One search result as the API shows it (the service was loaded by the search)."""
    service = hit.service
    locations = [sal.location for sal in service.service_at_locations if sal.location]
    locations.sort(key=lambda loc: (loc.id != hit.nearest_location_id, loc.name or ""))
    out: dict[str, Any] = {
        "id": str(service.id),
        "name": service.name,
        "organization": {"id": str(service.organization.id), "name": service.organization.name},
        "description": service.description,
        "snippet": hit.snippet,
        "matched": list(hit.matched),  # found through these terms, not the words typed
        "categories": [
            {
                "id": str(a.taxonomy_term.id),
                "code": a.taxonomy_term.code,
                "name": a.taxonomy_term.name,
            }
            for a in service.attributes
        ],
        "serves_area": hit.serves_area,
        "open_now": hit.open_now,
        "free": service.is_free,
        "referral_capacity": service.referral_capacity,
        "status": service.status,
        "locations": [_location_json(loc) for loc in locations],
        "phones": [{"number": p.number, "extension": p.extension} for p in service.phones],
    }
    if place is not None:
        known = hit.distance_km is not None
        out["distance_km"] = round(hit.distance_km, 2) if known else None
        out["distance_mi"] = round(km_to_miles(hit.distance_km), 2) if known else None
    return out


def crisis_json(crisis: Crisis | None) -> dict[str, Any] | None:
    """The crisis lines to show first when the words signal danger (None otherwise)."""
    if crisis is None:
        return None
    lines = [
        {"name": x.name, "number": x.display, "tel": x.tel_uri, "note": x.note, "text": x.text}
        for x in crisis.lines
    ]
    return {"kinds": list(crisis.kinds), "lines": lines}


def results_json(results: SearchResults) -> dict[str, Any]:
    """A page of search results with facets, "did you mean" and the place searched."""
    query = results.query
    place = query.place
    return {
        "total": results.total,
        "page": query.page,
        "per_page": query.per_page,
        "pages": results.pages,
        "results": [hit_json(hit, place) for hit in results.hits if hit.service is not None],
        "facets": {
            name: [{"value": f.value, "label": f.label, "count": f.count} for f in facets]
            for name, facets in results.facets.items()
        },
        "suggestion": results.suggestion,
        "crisis": crisis_json(results.crisis),
        "place": None
        if place is None
        else {
            "label": place.label,
            "kind": place.kind,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "radius_km": query.radius_km or search.DEFAULT_RADIUS_KM,
        },
    }


@bp.get("/services")
def list_services():
    """Search the directory: words, place, filters; one page of ranked services. Anonymous
    answers are reused, and may be kept by proxies, until the next change (`result_cache`)."""
    return result_cache.answer("api", _search_answer, shared=True)


def _search_answer():
    try:
        query = search.query_from_args(request.args)
        results = search.search(query)
    except search.SearchQueryError as exc:
        return _error(400, exc.code, exc.message, exc.field)
    return jsonify(results_json(results))


@bp.get("/services/<service_id>")
def get_service(service_id: str):
    """One service, whole (HSDS 3.0 shape, with our referral capacity)."""
    try:
        key = uuid.UUID(service_id)
    except ValueError:
        return _error(404, "not_found", f"There is no service {service_id!r}.")
    service = db.session.scalar(select(Service).where(Service.id == key))
    if service is None:
        return _error(404, "not_found", f"There is no service {service_id!r}.")
    body = hsds_json.service_full(service)
    body.setdefault("referral_capacity", service.referral_capacity)
    return jsonify(body)
