"""Public directory pages (no login): search, a service's page, and "my list"."""

import re
import uuid
from datetime import datetime
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select
from werkzeug.routing import BuildError

from directory import (
    cards,
    hours,
    languages,
    normalize,
    referral_routes,
    result_cache,
    verification,
)
from directory import search as engine
from directory.models import Service, ServiceStatus, TaxonomyTerm
from extensions import db, htmx, utcnow
from geo.sql import km_to_miles

bp = Blueprint("directory", __name__)

MY_LIST_COOKIE = "my_list"
MY_LIST_MAX = 50
MY_LIST_MAX_AGE = 60 * 60 * 24 * 90  # a member comes back to the list for weeks, not forever
RADIUS_MILES = (1, 2, 5, 10, 25, 50, 100)


# ---------------------------------------------------------------- search


@bp.get("/search")
@bp.get("/")
def search():
    """The public search page; an htmx request gets only the results region. An anonymous
    visitor's page is reused until the next change (`result_cache`)."""
    return result_cache.answer(
        "page",
        _search_page,
        shared=False,
        headers=("HX-Request", "HX-History-Restore-Request"),
        extra=tuple(sorted(str(i) for i in my_list_ids())),  # which results show as saved
    )


def _search_page():
    results = query = error = None
    try:
        query = engine.query_from_args(request.args)
        results = engine.search(query)
    except engine.SearchQueryError as exc:
        # A person's words, not a server fault: shown in the page (200), like an empty result.
        error = exc
    context = _search_context(query, results, error)
    template = (
        "directory/_results.html"
        if htmx and not htmx.history_restore_request
        else "directory/search.html"
    )
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


FILTER_FLAGS = ("open_now", "free", "wheelchair")
FILTER_LISTS = ("category", "language")
FILTER_LEGENDS = {"category": "Kind of help", "language": "Languages spoken"}


def _search_context(query, results, error) -> dict:
    """What the search templates show, from the query the engine understood."""
    now = (query.now if query and query.now else None) or utcnow()
    shown = []
    markers = []
    for hit in results.hits if results else []:
        service = hit.service
        if service is None:
            continue
        location = cards.shown_location(service, hit.nearest_location_id)
        status = hours.open_status(hours.schedules_for(service), now, _default_tz())
        shown.append({"hit": hit, "service": service, "location": location, "status": status})
        if location is not None and location.latitude is not None:
            markers.append(
                {
                    "lat": float(location.latitude),
                    "lon": float(location.longitude),
                    "name": service.name,
                    "url": url_for("directory.service", service_id=service.id),
                }
            )
    groups = _filter_groups(query, results) if results else []
    active = sum(1 for g in groups for option in g["options"] if option["checked"])
    return {
        "query": query,
        "results": results,
        "error": error.message if error else None,
        "place_error": isinstance(error, engine.UnknownPlaceError),
        "cards": shown,
        "referral_routes": referral_routes.routes_for([card["service"].id for card in shown]),
        "markers": markers,
        "view": "map" if request.args.get("view") == "map" else "list",
        "radius_options": _radius_options(),
        "args": request.args,
        "search_url": _search_url,
        "filter_groups": groups,
        "has_filters": bool(active),
        "filter_count": active,
        "clear_filters_url": _search_url(**dict.fromkeys(FILTER_FLAGS + FILTER_LISTS)),
    }


def _radius_options() -> list[dict]:
    """The distances offered; the engine's default distance is the empty (clean-URL) choice."""
    default = round(km_to_miles(engine.DEFAULT_RADIUS_KM))
    current = request.args.get("radius_mi", "").strip()
    options = []
    for miles in sorted({*RADIUS_MILES, default}):
        value = "" if miles == default else str(miles)
        label = f"{miles} mile{'' if miles == 1 else 's'}"
        options.append({"value": value, "label": label, "selected": current in (value, str(miles))})
    return options


def _filter_groups(query, results) -> list[dict]:
    """Checkboxes for the facets, each with its count; a filter in use stays even at zero."""
    facets = results.facets
    flags = {"open_now": query.open_now, "free": query.free_only, "wheelchair": query.wheelchair}
    access = []
    for name in FILTER_FLAGS:
        for facet in facets.get(name, []):
            access.append(_option(name, facet.value, facet.label, facet.count, flags[name]))
    groups = [{"name": "flags", "legend": "Show only", "options": access}]
    chosen = {
        "category": {_category_key(v): v for v in query.categories},
        "language": {languages.canonical(v)[0]: v for v in query.languages},
    }
    for name in FILTER_LISTS:
        options, seen = [], set()
        for facet in facets.get(name, []):
            key = _category_key(facet.value) if name == "category" else facet.value
            seen.add(key)
            options.append(
                _option(name, facet.value, facet.label, facet.count, key in chosen[name])
            )
        for key, raw in chosen[name].items():
            if key not in seen:  # chosen, but no result has it now: keep it so it can be unticked
                label = _category_label(raw) if name == "category" else languages.canonical(raw)[1]
                options.append(_option(name, raw, label, 0, True))
        if options:
            groups.append({"name": name, "legend": FILTER_LEGENDS[name], "options": options})
    return [g for g in groups if g["options"]]


def _option(name: str, value: str, label: str, count: int, checked: bool) -> dict:
    token = re.sub(r"[^A-Za-z0-9_-]+", "-", str(value)).strip("-").lower() or "x"
    return {
        "name": name,
        "value": value,
        "label": label,
        "count": count,
        "checked": checked,
        "id": f"filter-{name}-{token}",
    }


def _category_key(value: str) -> str:
    """Category values compare by id whether written with dashes or not; codes as they are."""
    try:
        return uuid.UUID(str(value)).hex
    except ValueError:
        return str(value)


def _category_label(value: str) -> str:
    try:
        term = db.session.get(TaxonomyTerm, uuid.UUID(str(value)))
    except ValueError:
        term = db.session.scalar(select(TaxonomyTerm).where(TaxonomyTerm.code == value).limit(1))
    return term.name if term else str(value)


def _search_url(**changes) -> str:
    """This search's URL with some arguments changed (None drops one); page resets unless given."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    for key, value in changes.items():
        if value is None or (key == "page" and value in (1, "1")):
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    return url_for("directory.search", **args)


def _default_tz() -> str:
    return current_app.config.get("DEFAULT_TIMEZONE", "America/New_York")


# ---------------------------------------------------------------- a service


@bp.get("/services/<uuid:service_id>")
def service(service_id: uuid.UUID):
    """Everything a person needs to decide to go, call or be referred."""
    found = db.get_or_404(Service, service_id)
    if not found.is_shown:
        abort(404, description="This service is no longer offered.")
    schedules = hours.schedules_for(found)
    now = utcnow()
    tz = _schedule_zone(schedules)
    today = now.astimezone(tz).strftime("%A")
    return render_template(
        "directory/service.html",
        service=found,
        status=hours.open_status(schedules, now, _default_tz()),
        week=hours.weekly_hours(schedules),
        schedules=schedules,
        today=today,
        locations=[sal.location for sal in found.service_at_locations],
        refer_url=_refer_url(found),
        claim_url=_claim_url(found),
        referral_routes=referral_routes.routes_for([found.id]),
    )


def _schedule_zone(schedules) -> ZoneInfo:
    """The zone the weekly table is read in, to know which row is "today"."""
    for schedule in schedules:
        if schedule.tz_name:
            try:
                return ZoneInfo(schedule.tz_name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(_default_tz())


def _refer_url(service: Service) -> str | None:
    """The Refer button shows only once referrals exist, and only to a signed-in coordinator."""
    if "referrals.new_referral" not in current_app.view_functions:
        return None
    from flask_login import current_user

    if not (current_user.is_authenticated and getattr(current_user, "is_coordinator", False)):
        return None
    try:
        return url_for("referrals.new_referral", service_id=service.id)
    except BuildError:
        return None


def _claim_url(service: Service) -> str | None:
    """The link to claim a listing ("Work here?"), when the network takes claims; the page
    shows it only while the organization has not joined."""
    if "claims.claim_listing" not in current_app.view_functions:
        return None
    return url_for("claims.claim_listing", service_id=service.id)


# ---------------------------------------------------------------- my list


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="wraparound.my-list")


def _parse_ids(values) -> list[uuid.UUID]:
    """Service ids from a form, a share link ("a,b,c") or the cookie; junk dropped, order kept."""
    ids: list[uuid.UUID] = []
    for value in values:
        for part in str(value).replace(" ", ",").split(","):
            try:
                service_id = uuid.UUID(part.strip())
            except ValueError:
                continue
            if service_id not in ids:
                ids.append(service_id)
    return ids[:MY_LIST_MAX]


def my_list_ids() -> list[uuid.UUID]:
    """The services this browser saved (a signed cookie: no account needed)."""
    raw = request.cookies.get(MY_LIST_COOKIE)
    if not raw:
        return []
    try:
        return _parse_ids(_serializer().loads(raw))
    except (BadData, TypeError, ValueError):
        return []


def _store_my_list(response, ids: list[uuid.UUID]) -> None:
    if not ids:
        response.delete_cookie(MY_LIST_COOKIE, samesite="Lax")
        return
    response.set_cookie(
        MY_LIST_COOKIE,
        _serializer().dumps([str(i) for i in ids[:MY_LIST_MAX]]),
        max_age=MY_LIST_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )


def _listed_services(ids: list[uuid.UUID]) -> list[Service]:
    """The saved services still listed, in the order they were saved."""
    if not ids:
        return []
    found = {
        s.id: s
        for s in db.session.scalars(select(Service).where(Service.id.in_(ids), Service.is_shown))
    }
    return [found[i] for i in ids if i in found]


@bp.app_context_processor
def _inject_my_list() -> dict:
    ids = my_list_ids() if request else []
    return {"my_list_ids": set(ids), "my_list_count": len(ids)}


def _list_context(ids: list[uuid.UUID], *, shared: bool, saved: list[uuid.UUID]) -> dict:
    """What the list page shows: the services, their hours today, and ways to pass it on."""
    services = _listed_services(ids)
    now = utcnow()
    share_url = url_for(
        "directory.my_list", ids=",".join(str(s.id) for s in services), _external=True
    )
    message = f"Services for you: {share_url}"
    return {
        "services": services,
        "statuses": {
            s.id: hours.open_status(hours.schedules_for(s), now, _default_tz()) for s in services
        },
        "shared": shared,
        "my_list_ids": set(saved),
        "my_list_count": len(saved),
        "share_url": share_url,
        "sms_href": "sms:?&body=" + quote(message),
        "mailto_href": "mailto:?subject="
        + quote("Services for you")
        + "&body="
        + quote(message + "\n"),
    }


@bp.get("/list")
def my_list():
    """This browser's saved list, or a shared one (`?ids=`) opened from a link on another phone."""
    saved = my_list_ids()
    shared = "ids" in request.args
    ids = _parse_ids(request.args.getlist("ids")) if shared else saved
    template = (
        "directory/_my_list.html"
        if htmx and not htmx.history_restore_request
        else "directory/my_list.html"
    )
    response = make_response(
        render_template(template, **_list_context(ids, shared=shared, saved=saved))
    )
    response.vary.add("HX-Request")
    return response


def _next_url(default: str) -> str:
    """Where to go back to after a save: only a path on this site, never another host."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if parts.scheme or parts.netloc:
        return default
    return target


def _changed_list(ids: list[uuid.UUID], changed: list[Service]):
    """After a save or removal: htmx gets the updated widget, a plain form a redirect (PRG)."""
    if not htmx:
        response = redirect(_next_url(url_for("directory.my_list")), code=303)
    elif htmx.target == "my-list":
        context = _list_context(ids, shared=False, saved=ids)
        response = make_response(render_template("directory/_my_list.html", oob=True, **context))
    elif changed:
        response = make_response(
            render_template(
                "directory/_save_button.html",
                service=changed[0],
                my_list_ids=set(ids),
                my_list_count=len(ids),
                next_url=_next_url(url_for("directory.my_list")),
                oob=True,
            )
        )
    else:  # the service is gone from the directory: nothing on the page to redraw
        response = make_response("", 204)
    _store_my_list(response, ids)
    return response


@bp.post("/list/add")
def list_add():
    """Save one or more services to this browser's list (no login)."""
    ids = my_list_ids()
    wanted = _listed_services(_parse_ids(request.form.getlist("service_id")))
    if not wanted:
        abort(400, description="Choose a service to save.")
    for service in wanted:
        if service.id not in ids:
            ids.append(service.id)
    return _changed_list(ids[-MY_LIST_MAX:], wanted)


@bp.post("/list/remove")
def list_remove():
    """Take services off this browser's list (or all of them)."""
    ids = my_list_ids()
    if request.form.get("all"):
        return _changed_list([], [])
    unwanted = _parse_ids(request.form.getlist("service_id"))
    if not unwanted:
        abort(400, description="Choose a service to remove.")
    changed = _listed_services(unwanted)
    return _changed_list([i for i in ids if i not in unwanted], changed)


# ---------------------------------------------------------------- template helpers


bp.add_app_template_global(cards.contact_phone, "contact_phone")
# Templates compare a service's (or a card's) status to these members, never to spelled strings.
bp.add_app_template_global(ServiceStatus, "ServiceStatus")
bp.add_app_template_global(referral_routes.route_of, "referral_route_of")
bp.add_app_template_global(referral_routes.ROUTE_LABELS, "referral_route_labels")


bp.add_app_template_filter(normalize.web_url, "web_url")  # http(s) links only, made absolute
bp.add_app_template_filter(normalize.valid_email, "email_address")  # for mailto: links
# "verified 2 months ago", and whether it is stale: templates/directory/_listing_trust.html
bp.add_app_template_filter(verification.verified_words, "verified")


@bp.app_template_filter("miles")
def miles(km: float | None) -> str:
    """ "0.3 mi", "12 mi": how far, in the unit people here use."""
    if km is None:
        return ""
    value = km_to_miles(km)
    if value < 0.1:
        return "under 0.1 mi"
    return f"{value:.1f} mi" if value < 10 else f"{value:.0f} mi"


@bp.app_template_filter("kilometres")
def kilometres(km: float | None) -> str:
    """The same distance in km, for the title and screen readers."""
    if km is None:
        return ""
    if km < 0.1:
        return "under 0.1 km"
    return f"{km:.1f} km" if km < 10 else f"{km:.0f} km"


@bp.app_template_filter("day")
def day(value) -> str:
    """ "March 4, 2025": a date a person reads without thinking."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(_default_tz())).date()
    return f"{value:%B} {value.day}, {value.year}"


@bp.app_template_filter("age")
def age(value) -> str:
    """18.00 → "18"; 1.5 → "1.5"."""
    number = float(value)
    return f"{number:g}"
