"""The HSDS 3.0 API under /hsds/ (Open Referral's API reference), read-only and public.

    GET /hsds/                            version, profile, openapi_url
    GET /hsds/openapi.json                HSDS's OpenAPI document with our server URL
    GET /hsds/services[/{id}]             search, taxonomy_term_id, taxonomy_id, organization_id,
                                          modified_after, minimal, full
    GET /hsds/organizations[/{id}]        search, full, full_service
    GET /hsds/taxonomies[/{id}]           search
    GET /hsds/taxonomy_terms[/{id}]       search, taxonomy_id, parent_id, top_only
    GET /hsds/service_at_locations[/{id}] the services filters, postcode, proximity

Lists take page, per_page (1-100) and format (json, or ndjson: every row, one per line, no
paging) and answer with HSDS's paging envelope. Filters combine with AND. Items are HSDS list
items (one-to-one fields) unless full=true. On services and services at locations `search` is the
directory's full-text search (synonyms, misspellings) in relevance order; elsewhere it matches
names and descriptions. taxonomy_term_id matches services tagged with that very term. A bad
parameter is 400 {"error": {"code": "invalid_parameter", "message", "parameter"}}; an unknown id
is 404 {"error": {"code": "not_found", "message"}}.

Place filters: `postcode` alone matches a service at a location when its service's service area
covers the postcode's centroid or the location's address is in that postcode; with `proximity`
(metres), when the location lies within that distance of the centroid or a service area of its
service covers the centroid. Results with a postcode are ordered nearest first.
"""

import copy
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context, url_for
from sqlalchemy import ColumnElement, Select, Uuid, func, or_, select, text
from sqlalchemy.orm import selectinload

from directory.hsds import serialize as hsds_json
from directory.models import (
    Address,
    Attribute,
    Location,
    Organization,
    Service,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)
from extensions import db
from web import paging
from web.errors import json_error

bp = Blueprint("hsds_api", __name__, url_prefix="/hsds")

DEFAULT_PER_PAGE = 20
MAX_SEARCH_RESULTS = 2000  # full-text matches considered before the other filters
MAX_PROXIMITY_M = 2_000_000
NDJSON_BATCH = 200
# Base HSDS 3.0, no profile: the canonical schema location profiles are defined against.
DEFAULT_PROFILE_URL = "https://github.com/openreferral/specification/tree/3.0/schema"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_ZIP = re.compile(r"^\s*(\d{5})(?:-?\d{4})?\s*$")


class BadParameter(ValueError):
    """A query or path parameter we can't use; answered with 400 naming the parameter."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


class NotFound(LookupError):
    """No record with the requested id."""


@bp.errorhandler(BadParameter)
def _bad_parameter(exc: BadParameter):
    return json_error(400, "invalid_parameter", exc.message, parameter=exc.parameter)


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return json_error(404, "not_found", str(exc))


@bp.after_request
def _open_to_other_sites(response: Response) -> Response:
    """Public open data: any web page may read it."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# ------------------------------------------------------------------ parameters


def _text(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    return value or None


def _bool(name: str) -> bool:
    value = (_text(name) or "").lower()
    if not value or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise BadParameter(name, f"{name} must be true or false, not {value!r}.")


def _uuid(name: str, value: str | None = None) -> uuid.UUID | None:
    value = _text(name) if value is None else value
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadParameter(name, f"{name} must be a UUID, not {value!r}.") from None


def _datetime(name: str) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC."""
    value = _text(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+") if "T" in value else value)
    except ValueError:
        raise BadParameter(
            name, f"{name} must be an ISO 8601 date or date-time (2024-05-01T09:00:00Z)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    ndjson: bool

    @classmethod
    def from_request(cls) -> "Paging":
        fmt = (_text("format") or "json").lower()
        if fmt not in {"json", "ndjson"}:
            raise BadParameter("format", f"format must be json or ndjson, not {fmt!r}.")
        try:
            page = paging.page_number(request.args)
            per_page = paging.page_size(request.args, DEFAULT_PER_PAGE)
        except paging.BadPaging as exc:
            raise BadParameter(exc.parameter, exc.message) from None
        return cls(page=page, per_page=per_page, ndjson=fmt == "ndjson")


def _like(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive "contains", with the person's % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def _any_contains(text: str, *columns: Any) -> ColumnElement[bool]:
    """The `search=` filter of the simple lists: any of these columns contains the words."""
    return or_(*(_like(column, text) for column in columns))


# ------------------------------------------------------------------ paging


def _searched(model: type, *columns: str) -> Select:
    """A select of the model's ids; with the `search` parameter, of the rows that contain its
    text in one of the named columns."""
    id_query = select(model.id)
    text = _text("search")
    if text:
        id_query = id_query.where(_any_contains(text, *(getattr(model, c) for c in columns)))
    return id_query


def _search_rank(text: str | None) -> list[uuid.UUID] | None:
    """Service ids matching the full-text search, best first (None: no search asked for)."""
    if text is None:
        return None
    from directory import search

    return list(search.service_ids_matching(text, MAX_SEARCH_RESULTS))


def _page_of_ids(
    id_query: Select,
    order_by: Sequence,
    paging: Paging,
    rank: Callable[[Sequence], Any] | None = None,
) -> tuple[int, list]:
    """(total, ids on the requested page) for a select of ids, in order."""
    offset = (paging.page - 1) * paging.per_page
    if rank is None:
        total = db.session.scalar(select(func.count()).select_from(id_query.subquery())) or 0
        ids = db.session.scalars(
            id_query.order_by(*order_by).offset(offset).limit(paging.per_page)
        ).all()
        return total, list(ids)
    ordered = _ranked(id_query, order_by, rank)
    return len(ordered), ordered[offset : offset + paging.per_page]


def _ranked(id_query: Select, order_by: Sequence, rank: Callable[[Sequence], Any]) -> list:
    """Every id of the query, sorted by `rank(row)` (row: id and the order_by values)."""
    rows = db.session.execute(id_query.add_columns(*order_by)).all()
    return [row[0] for row in sorted(rows, key=rank)]


def _load(model: type, ids: Sequence, options: Sequence) -> list:
    """The objects with these ids, in the same order, loaded with their children."""
    if not ids:
        return []
    query = select(model).where(model.id.in_(ids)).options(*options)
    found = {obj.id: obj for obj in db.session.scalars(query)}
    return [found[i] for i in ids if i in found]


def _envelope(total: int, paging: Paging, contents: list) -> dict[str, Any]:
    """HSDS's paging envelope around one page of contents."""
    total_pages = math.ceil(total / paging.per_page) if total else 0
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": paging.page,
        "size": len(contents),
        "first_page": paging.page == 1,
        "last_page": paging.page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


def _list_response(
    *,
    model: type,
    id_query: Select,
    order_by: Sequence,
    options: Sequence,
    serialize: Callable[[list], list[dict]],
    paging: Paging,
    rank: Callable[[Sequence], Any] | None = None,
):
    """One page in HSDS's envelope, or with format=ndjson every row, one object per line."""
    if paging.ndjson:
        ids = (
            _ranked(id_query, order_by, rank)
            if rank is not None
            else list(db.session.scalars(id_query.order_by(*order_by)))
        )
        return _ndjson(model, ids, options, serialize)
    total, ids = _page_of_ids(id_query, order_by, paging, rank)
    return jsonify(_envelope(total, paging, serialize(_load(model, ids, options))))


def _each(item: Callable[[Any], dict]) -> Callable[[list], list[dict]]:
    """A page serializer from a one-object serializer."""
    return lambda rows: [item(row) for row in rows]


def _ndjson(model: type, ids: list, options: Sequence, serialize: Callable) -> Response:
    def lines() -> Iterator[str]:
        for start in range(0, len(ids), NDJSON_BATCH):
            batch = _load(model, ids[start : start + NDJSON_BATCH], options)
            for obj in serialize(batch):
                yield json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
            db.session.expunge_all()

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson")


def _one(model: type, name: str, raw_id: str, options: Sequence) -> Any:
    record_id = _uuid("id", raw_id)
    found = db.session.scalars(select(model).where(model.id == record_id).options(*options)).first()
    if found is None:
        raise NotFound(f"There is no {name} with id {record_id}.")
    return found


# ------------------------------------------------------------------ meta


@bp.get("/")
def index():
    """HSDS API meta information: which HSDS, which profile, where the OpenAPI document is."""
    return jsonify(
        {
            "version": hsds_json.HSDS_VERSION,
            "profile": current_app.config.get("HSDS_PROFILE_URL") or DEFAULT_PROFILE_URL,
            "openapi_url": url_for("hsds_api.openapi", _external=True),
        }
    )


@cache
def _openapi_template() -> dict[str, Any]:
    document = json.loads((hsds_json.SPEC_DIR / "openapi.json").read_text(encoding="utf-8"))
    document["info"] = {
        "title": "Wraparound HSDS API",
        "version": "1.0.0",
        "summary": "Community services directory as Open Referral HSDS 3.0.",
        "description": (
            "Read-only HSDS 3.0 API of a Wraparound community resource directory. "
            "Extensions to HSDS objects: `referral_capacity` on services (accepting, waitlist, "
            "not_accepting) and `tz_name` (IANA time zone) on schedules. Lists accept "
            f"per_page up to {paging.MAX_PER_PAGE}; format=ndjson streams every row without paging."
        ),
    }
    paths = document["paths"]
    # Two slips in the published 3.0 document: this endpoint returns a service_at_location,
    # and the taxonomy term operation ids are swapped.
    sal = paths["/service_at_locations/{id}"]["get"]["responses"]["200"]["content"]
    sal["application/json"]["schema"]["$ref"] = sal["application/json"]["schema"]["$ref"].replace(
        "compiled/service.json", "compiled/service_at_location.json"
    )
    paths["/taxonomy_terms/{id}"]["get"]["operationId"] = "getTaxonomyTermById"
    paths["/taxonomy_terms"]["get"]["operationId"] = "getPaginatedListOfTaxonomyTerms"
    _document_errors_and_bounds(document)
    return document


def _document_errors_and_bounds(document: dict[str, Any]) -> None:
    """What HSDS's document leaves out and this API does: 400 for a bad parameter, 404 for an
    unknown id (both with our error body), and the bounds of page and per_page."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "parameter": {"type": "string"},
                },
            }
        },
    }
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in document["paths"].items():
        if path == "/":
            continue
        responses = item["get"]["responses"]
        responses["400"] = {"description": "A parameter can't be used.", "content": content}
        if "{id}" in path:
            responses["404"] = {"description": "No record with this id.", "content": content}
    parameters = document["components"].get("parameters", {})
    bounds = {"page": (1, paging.MAX_PAGE), "per_page": (1, paging.MAX_PER_PAGE)}
    for name, (low, high) in bounds.items():
        if name in parameters:
            schema = parameters[name].setdefault("schema", {"type": "integer"})
            schema.update(minimum=low, maximum=high)


@bp.get("/openapi.json")
def openapi():
    """HSDS's OpenAPI 3.1 description of this API, pointing at this server."""
    document = copy.deepcopy(_openapi_template())
    document["servers"] = [{"url": url_for("hsds_api.index", _external=True).rstrip("/")}]
    return jsonify(document)


# ------------------------------------------------------------------ services


@dataclass(frozen=True)
class ServiceFilters:
    """The /services filters, shared with /service_at_locations."""

    search: str | None
    taxonomy_term_id: uuid.UUID | None
    taxonomy_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    modified_after: datetime | None

    @classmethod
    def from_request(cls) -> "ServiceFilters":
        return cls(
            search=_text("search"),
            taxonomy_term_id=_uuid("taxonomy_term_id"),
            taxonomy_id=_uuid("taxonomy_id"),
            organization_id=_uuid("organization_id"),
            modified_after=_datetime("modified_after"),
        )

    def conditions(
        self, ranked_ids: list[uuid.UUID] | None, *, modified: bool = True
    ) -> list[ColumnElement[bool]]:
        """SQL conditions on Service, one per filter given (the caller ANDs them).

        modified=False leaves modified_after to the caller (a site also changes with its place).
        """
        conditions: list[ColumnElement[bool]] = []
        if ranked_ids is not None:
            conditions.append(Service.id.in_(ranked_ids))
        if self.taxonomy_term_id is not None:
            tagged = select(Attribute.link_id).where(
                Attribute.taxonomy_term_id == self.taxonomy_term_id
            )
            conditions.append(Service.id.in_(tagged))
        if self.taxonomy_id is not None:
            tagged = (
                select(Attribute.link_id)
                .join(TaxonomyTerm, TaxonomyTerm.id == Attribute.taxonomy_term_id)
                .where(TaxonomyTerm.taxonomy_id == self.taxonomy_id)
            )
            conditions.append(Service.id.in_(tagged))
        if self.organization_id is not None:
            conditions.append(Service.organization_id == self.organization_id)
        if modified and self.modified_after is not None:
            conditions.append(Service.last_modified >= self.modified_after)
        return conditions


def _rank_by(ranked_ids: list[uuid.UUID] | None) -> Callable[[Sequence], Any] | None:
    """Sort key for rows (id, service id): the search's relevance order, then the id."""
    if ranked_ids is None:
        return None
    position = {service_id: n for n, service_id in enumerate(ranked_ids)}
    return lambda row: (position.get(row[1], len(position)), str(row[0]))


def _service_list(
    model: type,
    id_query: Select,
    order_by: Sequence,
    ranked: list[uuid.UUID] | None,
    paging: Paging,
    form: tuple[Sequence, Callable[[list], list[dict]]],
):
    """A list of services or services at locations (rows selected as id and service id): with
    a full-text search in its relevance order, else in `order_by`. `form`: the load options
    and the page serializer."""
    rank = _rank_by(ranked)
    options, serialize = form
    return _list_response(
        model=model,
        id_query=id_query,
        order_by=(Service.id,) if rank else order_by,
        options=options,
        serialize=serialize,
        paging=paging,
        rank=rank,
    )


@bp.get("/services")
def services():
    """Services, filtered and paged; list items, minimal (id, last_modified) or full."""
    paging = Paging.from_request()
    filters = ServiceFilters.from_request()
    full, minimal = _bool("full"), _bool("minimal")
    ranked = _search_rank(filters.search)
    id_query = select(Service.id).where(*filters.conditions(ranked))
    options: Sequence
    if minimal:
        options, serialize = (), _each(hsds_json.service_minimal)
    elif full:
        options, serialize = hsds_json.SERVICE_FULL_OPTIONS, hsds_json.services_full
    else:
        options, serialize = hsds_json.SERVICE_LIST_OPTIONS, _each(hsds_json.service_list_item)

    return _service_list(
        Service, id_query, (Service.name, Service.id), ranked, paging, (options, serialize)
    )


@bp.get("/services/<id>")
def service(id: str):
    """One service, fully nested."""
    found = _one(Service, "service", id, hsds_json.SERVICE_FULL_OPTIONS)
    return jsonify(hsds_json.service_full(found))


# ------------------------------------------------------------------ organizations


@bp.get("/organizations")
def organizations():
    """Organizations, paged; full=true nests everything, full_service=true their full services."""
    paging = Paging.from_request()
    id_query = _searched(Organization, "name", "alternate_name", "description")
    full, full_service = _bool("full"), _bool("full_service")
    services_form = "full" if full_service else ("list" if full else None)
    options = hsds_json.organization_options(full=full, services=services_form)
    if full:

        def serialize(rows):
            return hsds_json.organizations_full(rows, services=services_form)

    elif full_service:

        def serialize(rows):
            # One bulk serialization for every organization's services, then shared out.
            groups = [sorted(org.services, key=_by_id) for org in rows]
            flat = iter(hsds_json.services_full([s for group in groups for s in group]))
            return [
                hsds_json.organization_with_services(org, [next(flat) for _ in group])
                for org, group in zip(rows, groups, strict=True)
            ]

    else:
        serialize = _each(hsds_json.organization_list_item)

    return _list_response(
        model=Organization,
        id_query=id_query,
        order_by=(Organization.name, Organization.id),
        options=options,
        serialize=serialize,
        paging=paging,
    )


def _by_id(obj: Any) -> str:
    return str(obj.id)


@bp.get("/organizations/<id>")
def organization(id: str):
    """One organization, fully nested; its services as list items, or full with full_service."""
    form = "full" if _bool("full_service") else "list"
    options = hsds_json.organization_options(full=True, services=form)
    found = _one(Organization, "organization", id, options)
    return jsonify(hsds_json.organization_full(found, services=form))


# ------------------------------------------------------------------ taxonomies


@bp.get("/taxonomies")
def taxonomies():
    """Taxonomies, paged; search matches names and descriptions."""
    paging = Paging.from_request()
    id_query = _searched(Taxonomy, "name", "description")
    return _list_response(
        model=Taxonomy,
        id_query=id_query,
        order_by=(Taxonomy.name, Taxonomy.id),
        options=(),
        serialize=_each(hsds_json.taxonomy),
        paging=paging,
    )


@bp.get("/taxonomies/<id>")
def taxonomy(id: str):
    """One taxonomy."""
    return jsonify(hsds_json.taxonomy(_one(Taxonomy, "taxonomy", id, ())))


@bp.get("/taxonomy_terms")
def taxonomy_terms():
    """Taxonomy terms, paged; filter by taxonomy, parent, top level only, or words."""
    paging = Paging.from_request()
    taxonomy_id, parent_id = _uuid("taxonomy_id"), _uuid("parent_id")
    id_query = _searched(TaxonomyTerm, "name", "code", "description")
    if taxonomy_id is not None:
        id_query = id_query.where(TaxonomyTerm.taxonomy_id == taxonomy_id)
    if parent_id is not None:
        id_query = id_query.where(TaxonomyTerm.parent_id == parent_id)
    if _bool("top_only"):
        id_query = id_query.where(TaxonomyTerm.parent_id.is_(None))
    return _list_response(
        model=TaxonomyTerm,
        id_query=id_query,
        order_by=(TaxonomyTerm.name, TaxonomyTerm.id),
        options=(selectinload(TaxonomyTerm.taxonomy),),
        serialize=_each(hsds_json.taxonomy_term),
        paging=paging,
    )


@bp.get("/taxonomy_terms/<id>")
def taxonomy_term(id: str):
    """One taxonomy term, with its taxonomy."""
    found = _one(TaxonomyTerm, "taxonomy term", id, (selectinload(TaxonomyTerm.taxonomy),))
    return jsonify(hsds_json.taxonomy_term(found))


# ------------------------------------------------------------------ services at locations


@dataclass(frozen=True)
class PlaceFilter:
    latitude: float
    longitude: float
    zip_code: str | None
    proximity_m: float | None

    @classmethod
    def from_request(cls) -> "PlaceFilter | None":
        postcode, proximity = _text("postcode"), _text("proximity")
        if postcode is None:
            if proximity is not None:
                raise BadParameter("proximity", "proximity needs a postcode to measure from.")
            return None
        from geo.places import UnknownPlace, resolve_place

        try:
            place = resolve_place(postcode)
        except UnknownPlace as exc:
            raise BadParameter("postcode", str(exc)) from None
        zip_match = _ZIP.match(postcode)
        return cls(
            latitude=place.latitude,
            longitude=place.longitude,
            zip_code=zip_match[1] if zip_match else None,
            proximity_m=_proximity(proximity),
        )


def _proximity(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        metres = float(value)
    except ValueError:
        raise BadParameter("proximity", f"proximity must be metres, not {value!r}.") from None
    if not math.isfinite(metres) or metres <= 0 or metres > MAX_PROXIMITY_M:
        raise BadParameter("proximity", f"proximity must be between 0 and {MAX_PROXIMITY_M:,} m.")
    return metres


def _place_conditions(place: PlaceFilter) -> tuple[ColumnElement[bool], list]:
    """Which services at locations the place reaches, and an order putting the nearest first.

    Needs Location joined to ServiceAtLocation.
    """
    from geo import sql as geo_sql

    dialect = db.engine.dialect.name
    covering = geo_sql.covering(
        dialect,
        "service_area",
        place.latitude,
        place.longitude,
        extra=("service_id",),
        types={"id": Uuid(), "service_id": Uuid()},
    ).subquery("covering")
    served = ServiceAtLocation.service_id.in_(select(covering.c.service_id))
    if place.proximity_m is not None:
        near = geo_sql.within_radius(
            dialect,
            "location",
            place.latitude,
            place.longitude,
            place.proximity_m,
            types={"id": Uuid()},
        ).subquery("near")
        reached = or_(ServiceAtLocation.location_id.in_(select(near.c.id)), served)
    elif place.zip_code is not None:
        in_postcode = select(Address.location_id).where(
            Address.postal_code.like(f"{place.zip_code}%")
        )
        reached = or_(served, ServiceAtLocation.location_id.in_(in_postcode))
    else:
        reached = served
    distance = text(geo_sql.distance_sql(dialect, "location.geom", "d")).bindparams(
        d_lat=place.latitude, d_lon=place.longitude
    )
    return reached, [Location.geom.is_(None), distance]


@bp.get("/service_at_locations")
def service_at_locations():
    """Services at locations, with the services filters and postcode/proximity."""
    paging = Paging.from_request()
    filters = ServiceFilters.from_request()
    place = PlaceFilter.from_request()
    full = _bool("full")
    ranked = _search_rank(filters.search)
    conditions = filters.conditions(ranked, modified=False)
    if filters.modified_after is not None:
        conditions.append(
            or_(
                Service.last_modified >= filters.modified_after,
                Location.last_modified >= filters.modified_after,
            )
        )
    order_by: list = [Service.name, Service.id, ServiceAtLocation.id]
    if place is not None:
        reached, nearest_first = _place_conditions(place)
        conditions.append(reached)
        order_by = [*nearest_first, *order_by]
    id_query = (
        select(ServiceAtLocation.id)
        .join(Service, Service.id == ServiceAtLocation.service_id)
        .join(Location, Location.id == ServiceAtLocation.location_id)
        .where(*conditions)
    )
    if full:
        form = (hsds_json.SERVICE_AT_LOCATION_FULL_OPTIONS, hsds_json.services_at_location_full)
    else:
        form = (
            hsds_json.SERVICE_AT_LOCATION_LIST_OPTIONS,
            _each(hsds_json.service_at_location_list_item),
        )
    return _service_list(ServiceAtLocation, id_query, order_by, ranked, paging, form)


@bp.get("/service_at_locations/<id>")
def service_at_location(id: str):
    """One service at a location, fully nested with its service."""
    found = _one(
        ServiceAtLocation,
        "service at location",
        id,
        hsds_json.SERVICE_AT_LOCATION_FULL_OPTIONS,
    )
    return jsonify(hsds_json.service_at_location_full(found))
