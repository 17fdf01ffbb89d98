"""Agencies edit their own directory listing; network admins any. Every save is logged field by
field (directory.editing) and shown on the listing's History page.

The pages live here, not in directory/, because who may edit is an accounts rule
(accounts.listing_rights.may_edit_listing). Each form posts as a whole page without JavaScript; with
htmx it posts in place and gets its own region back (saved, or with errors next to the fields).
"""

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from accounts.auth import login_required_roles
from accounts.listing_links import SUGGESTION_PARAM
from accounts.listing_rights import editor_of, may_edit_listing, may_restore, own_listing_id
from directory import editing, listing_checks
from directory.hours import DAY_CODES, DAY_NAMES
from directory.models import (
    ListingChange,
    Location,
    Organization,
    ReferralCapacity,
    Service,
    ServiceStatus,
    TaxonomyTerm,
)
from extensions import db, htmx

bp = Blueprint("listings", __name__)

STATUS_LABELS = {
    ServiceStatus.active: "Active",
    ServiceStatus.temporarily_closed: "Temporarily closed",
    ServiceStatus.inactive: "Not offered now",
    ServiceStatus.defunct: "Closed for good",
}
CAPACITY_LABELS = {
    ReferralCapacity.accepting: "Accepting new referrals",
    ReferralCapacity.waitlist: "Waitlist",
    ReferralCapacity.not_accepting: "Not accepting new referrals",
}


@bp.app_context_processor
def _listing_links():
    def listing_links(organization_id, service_id=None) -> dict | None:
        """Edit and History links for a listing (a service's own form when one is given), for
        people who may edit it; None for everyone else."""
        if organization_id is None or not may_edit_listing(current_user, organization_id):
            return None
        if service_id is not None:
            edit = url_for("listings.edit_service", service_id=service_id)
        else:
            edit = url_for("listings.edit_organization", organization_id=organization_id)
        return {
            "edit": edit,
            "history": url_for("listings.history", organization_id=organization_id),
        }

    return {"listing_links": listing_links, "own_listing_id": lambda: own_listing_id(current_user)}


def _suggestion_id() -> uuid.UUID | None:
    try:
        return uuid.UUID(request.values.get(SUGGESTION_PARAM, ""))
    except ValueError:
        return None


def _prefilled(values: dict) -> dict:
    """Starting values, with any `prefill_<input>` query parameters laid over them."""
    found = dict(values)
    for key, value in request.args.items():
        if key.startswith("prefill_"):
            found[key.removeprefix("prefill_")] = value
    return found


def _require_edit(organization_id: uuid.UUID) -> None:
    if not may_edit_listing(current_user, organization_id):
        abort(403, description="You can't edit this listing.")


def _listing_to_edit(organization_id: uuid.UUID) -> Organization:
    organization = db.get_or_404(Organization, organization_id)
    _require_edit(organization.id)
    return organization


def _form_page(
    record_type: str,
    record,
    check,
    read_values,
    template: str,
    partial: str,
    done_url: str,
    organization: Organization,
    **context,
):
    """GET: the form; POST: check, save and log, then back to the listing (or errors, 422).

    `read_values()` gives the inputs' values for the record as saved. With htmx a save answers
    with the form region again, re-read, and a "Saved" note.
    """
    values, errors, saved, status = _prefilled(read_values()), {}, None, 200
    in_place = bool(htmx and not htmx.history_restore_request)
    if request.method == "POST":
        checked = check(request.form)
        if checked.ok:
            changes = editing.edit_record(
                record_type,
                record,
                checked.values,
                editor_of(current_user),
                suggestion_id=_suggestion_id(),
                organization_id=organization.id,
            )
            count = len(changes)
            saved = (
                f"Saved {count} change{'s' if count != 1 else ''}." if count else "Nothing changed."
            )
            if not in_place:
                flash(saved, "success")
                return redirect(done_url, code=303)
            values = read_values()
        else:
            values, errors, status = request.form.to_dict(flat=True), checked.errors, 422
    arguments = dict(
        organization=organization,
        values=values,
        errors=errors,
        saved=saved,
        suggestion_id=_suggestion_id(),
        **context,
    )
    page = render_template(partial if in_place else template, **arguments)
    return page, status, {"Vary": "HX-Request"}


# -- the organization -------------------------------------------------------------------------


@bp.route("/listings/<uuid:organization_id>/edit", methods=["GET", "POST"])
@login_required_roles()
def edit_organization(organization_id: uuid.UUID):
    """The organization's own details, and the way to its services, sites and hours."""
    organization = _listing_to_edit(organization_id)
    return _form_page(
        "organization",
        organization,
        listing_checks.check_organization,
        lambda: editing.read_fields("organization", organization),
        "listings/organization.html",
        "listings/_organization_form.html",
        url_for("listings.edit_organization", organization_id=organization.id),
        organization,
        services=sorted(organization.services, key=lambda s: s.name.lower()),
    )


# -- a service --------------------------------------------------------------------------------


def _service_to_edit(service_id: uuid.UUID) -> Service:
    service = db.get_or_404(Service, service_id)
    _require_edit(service.organization_id)
    return service


def _chosen_terms(values: dict) -> list[TaxonomyTerm]:
    ids = []
    for line in (values.get("categories") or values.get("category") or "").splitlines():
        try:
            ids.append(uuid.UUID(line.strip()))
        except ValueError:
            continue
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(TaxonomyTerm).where(TaxonomyTerm.id.in_(ids)).order_by(TaxonomyTerm.name)
        )
    )


@bp.route("/services/<uuid:service_id>/edit", methods=["GET", "POST"])
@login_required_roles()
def edit_service(service_id: uuid.UUID):
    """What the service is, who it is for, what it costs and how to apply."""
    service = _service_to_edit(service_id)
    if request.method == "POST":
        chosen = "\n".join(request.form.getlist("category"))
    else:
        chosen = _prefilled(editing.read_fields("service", service)).get("categories") or ""
    return _form_page(
        "service",
        service,
        listing_checks.check_service,
        lambda: editing.read_fields("service", service),
        "listings/service.html",
        "listings/_service_form.html",
        url_for("listings.edit_organization", organization_id=service.organization_id),
        service.organization,
        service=service,
        chosen_terms=_chosen_terms({"categories": chosen}),
        statuses=STATUS_LABELS,
        capacities=CAPACITY_LABELS,
    )


@bp.get("/listings/categories")
@login_required_roles()
def category_choices():
    """Search-as-you-type for the category picker: matching terms as checkboxes to tick."""
    query = request.args.get("add_categories", "") or request.args.get("q", "")
    terms = listing_checks.find_terms(query) if len(query.strip()) >= 2 else []
    page = render_template("listings/_category_choices.html", terms=terms, query=query)
    return page, 200, {"Vary": "HX-Request"}


# -- hours ------------------------------------------------------------------------------------


@bp.route("/services/<uuid:service_id>/hours", methods=["GET", "POST"])
@login_required_roles()
def edit_hours(service_id: uuid.UUID):
    """The weekly hours, closed days, holiday closures, or open 24/7."""
    service = _service_to_edit(service_id)
    return _form_page(
        "service",
        service,
        listing_checks.check_hours,
        lambda: listing_checks.hours_inputs(editing.read_fields("service", service)["hours"]),
        "listings/hours.html",
        "listings/_hours_form.html",
        url_for("listings.edit_organization", organization_id=service.organization_id),
        service.organization,
        service=service,
        days=list(zip(DAY_CODES, DAY_NAMES, strict=True)),
        periods=range(listing_checks.PERIODS_PER_DAY),
        closure_rows=listing_checks.closure_rows,
    )


# -- service areas ----------------------------------------------------------------------------


@bp.route("/services/<uuid:service_id>/areas", methods=["GET", "POST"])
@login_required_roles()
def edit_areas(service_id: uuid.UUID):
    """Where the service serves: counties and ZIP codes by name, or an uploaded GeoJSON polygon."""
    service = _service_to_edit(service_id)
    return _form_page(
        "service",
        service,
        lambda data: listing_checks.check_service_areas(data, request.files, service),
        lambda: listing_checks.split_areas(service),
        "listings/areas.html",
        "listings/_areas_form.html",
        url_for("listings.edit_organization", organization_id=service.organization_id),
        service.organization,
        service=service,
        other_areas=listing_checks.split_areas(service)["others"],
    )


# -- a location -------------------------------------------------------------------------------


@bp.route("/services/<uuid:service_id>/locations/<uuid:location_id>/edit", methods=["GET", "POST"])
@login_required_roles()
def edit_location(service_id: uuid.UUID, location_id: uuid.UUID):
    """A site's address (its map point found from the ZIP), accessibility and transit."""
    service = _service_to_edit(service_id)
    location = db.get_or_404(Location, location_id)
    if all(sal.location_id != location.id for sal in service.service_at_locations):
        abort(404)
    return _location_page(service, location)


@bp.route("/services/<uuid:service_id>/locations/new", methods=["GET", "POST"])
@login_required_roles()
def add_location(service_id: uuid.UUID):
    """A new site where the service is offered."""
    service = _service_to_edit(service_id)
    if request.method == "POST":
        checked = listing_checks.check_location(request.form, None)
        if checked.ok:
            location = editing.add_location(service)
            return _location_page(service, location)
    return _location_page(service, None)


def _location_page(service: Service, location: Location | None):
    return _form_page(
        "location",
        location,
        lambda data: listing_checks.check_location(data, location),
        lambda: editing.read_fields("location", location) if location is not None else {},
        "listings/location.html",
        "listings/_location_form.html",
        url_for("listings.edit_organization", organization_id=service.organization_id),
        service.organization,
        service=service,
        location=location,
    )


# -- history ----------------------------------------------------------------------------------


@bp.get("/listings/<uuid:organization_id>/history")
@login_required_roles()
def history(organization_id: uuid.UUID):
    """Every change to the listing: who, when, and each field before and after."""
    organization = _listing_to_edit(organization_id)
    return render_template(
        "listings/history.html",
        organization=organization,
        changes=editing.history(organization.id),
        describe=editing.describe,
        field_label=editing.field_label,
        may_restore=may_restore(current_user),
    )


@bp.post("/listings/changes/<uuid:change_id>/restore")
@login_required_roles()
def restore(change_id: uuid.UUID):
    """Put back the value a field had before a change (network admins); logged like any edit."""
    change = db.get_or_404(ListingChange, change_id)
    if not may_restore(current_user):
        abort(403, description="Only network admins restore earlier values.")
    try:
        editing.restore_change(change, editor_of(current_user))
    except editing.NothingToRestore as exc:
        flash(str(exc), "error")
    else:
        flash(f"{editing.field_label(change)} is back to its earlier value.", "success")
    return redirect(url_for("listings.history", organization_id=change.organization_id), code=303)
