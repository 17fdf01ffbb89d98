"""Network administration in the browser: imports from an uploaded export (done by the job
worker, followed on a progress page), the network's organizations and its users."""

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from accounts import network
from accounts.auth import login_required_roles, register_nav_link
from accounts.models import NetworkOrganization, OrgKind, Role
from accounts.services import AccountError, create_organization, update_organization
from admin import import_jobs
from admin.forms import ImportUploadForm, NetworkOrganizationForm
from extensions import db
from referrals import audit
from referrals.models import AuditAction, AuditObject
from referrals.web import int_arg, page_url, parse_uuid
from web import jobs

bp = Blueprint("netadmin", __name__)

register_nav_link("Organizations", "netadmin.organizations", roles=(Role.admin,), order=83)
register_nav_link("Users", "netadmin.users", roles=(Role.admin,), order=84)

FORM_OVERHEAD_BYTES = 64 * 1024  # the form's other fields and multipart headers


@bp.url_value_preprocessor
def _allow_the_upload(endpoint, values) -> None:
    """Before CSRF reads the form: an upload may be bigger than other requests (up to twice
    IMPORT_UPLOAD_MAX_BYTES, so one a bit too big gets a form error, not a bare 413)."""
    if endpoint == "netadmin.upload_import" and request.method == "POST":
        cap = current_app.config["IMPORT_UPLOAD_MAX_BYTES"]
        request.max_content_length = max(
            2 * cap + FORM_OVERHEAD_BYTES, current_app.config["MAX_CONTENT_LENGTH"] or 0
        )


# -- uploaded imports --------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


@bp.route("/admin/imports/upload", methods=["GET", "POST"])
@login_required_roles(Role.admin)
def upload_import():
    """Upload an HSDS export (.zip); a background job imports it and this page's successor
    shows its progress. The request only stores the upload."""
    form = ImportUploadForm()
    cap = current_app.config["IMPORT_UPLOAD_MAX_BYTES"]
    if form.validate_on_submit():
        upload = form.export.data
        data = upload.read() if upload else b""
        if not upload or not upload.filename:
            form.export.errors.append("Choose the export's .zip file.")
        elif len(data) > cap:
            form.export.errors.append(
                f"The file is {_megabytes(len(data))}; the most an upload may be is "
                f"{_megabytes(cap)}. Import bigger exports with flask directory import-hsds."
            )
        elif not import_jobs.looks_like_zip(data):
            form.export.errors.append(
                "This is not a .zip file. Upload the export as a .zip (HSDS JSON or CSV files "
                "with their datapackage.json)."
            )
        else:
            job = import_jobs.queue_import(
                upload.filename[:300], data, form.dataset.data.strip(), current_user
            )
            flash("Uploaded. The import runs in the background; this page follows it.", "success")
            return redirect(url_for("netadmin.job", job_id=job.id), code=303)
    status = 400 if form.errors else 200
    return render_template("admin/upload_import.html", form=form, cap=_megabytes(cap)), status


@bp.get("/admin/jobs/<uuid:job_id>")
@login_required_roles(Role.admin)
def job(job_id: uuid.UUID):
    """A job's progress (htmx asks again every 2 s until it ends) and, at the end, its report
    or the error."""
    found = db.get_or_404(jobs.Job, job_id)
    template = "admin/_job_status.html" if request.headers.get("HX-Request") else "admin/job.html"
    return render_template(template, job=found)


# -- network organizations ---------------------------------------------------------------------


@bp.get("/admin/organizations")
@login_required_roles(Role.admin)
def organizations():
    """Every organization of the network, with its kind, listing and number of accounts."""
    kind = request.args.get("kind", "")
    return render_template(
        "admin/organizations.html",
        listed=network.organizations_page(kind, int_arg("page", 1)),
        kind=kind,
        page_url=lambda **kw: page_url("netadmin.organizations", **kw),
    )


def _directory_choices(form: NetworkOrganizationForm, linked: uuid.UUID | None) -> None:
    """The listings the search found (and the linked one), as the form's choices."""
    term = (form.directory_search.data or "").strip()
    chosen = parse_uuid(form.directory_organization_id.data or "") or linked
    found = network.directory_organizations_named(term, also=chosen)
    form.directory_organization_id.choices = [
        SelectChoice("", "None (not listed in the directory)"),
        *(SelectChoice(str(org.id), org.name) for org in found),
    ]
    if form.directory_organization_id.data is None:
        form.directory_organization_id.data = str(linked) if linked else ""
    form.searched = term  # the template says when nothing matched


def _organization_form(organization: NetworkOrganization | None):
    form = NetworkOrganizationForm(obj=organization)
    if organization is None and not form.kind.data:
        form.kind.data = OrgKind.agency.value
    if request.method == "GET" and organization is not None:
        form.directory_organization_id.data = None
    linked = organization.directory_organization_id if organization else None
    _directory_choices(form, linked)
    if form.find.data or not form.validate_on_submit():
        status = 400 if form.errors else 200
        return None, form, status
    values = (
        form.name.data or "",
        form.kind.data or "",
        form.directory_organization_id.data or None,
    )
    try:
        if organization is None:
            saved = create_organization(*values)
            action = AuditAction.create
        else:
            saved = update_organization(organization, *values)
            action = AuditAction.update
    except AccountError as exc:
        target = getattr(form, exc.field or "", None) or form.name
        target.errors = [*target.errors, exc.message]
        return None, form, 422
    audit.record(current_user._get_current_object(), action, AuditObject.organization, saved.id)
    return saved, form, 200


def _render_organization(form, organization, status):
    return (
        render_template("admin/organization_form.html", form=form, organization=organization),
        status,
    )


@bp.route("/admin/organizations/new", methods=["GET", "POST"])
@login_required_roles(Role.admin)
def new_organization():
    """Add a coordination organization or an agency to the network."""
    saved, form, status = _organization_form(None)
    if saved is None:
        return _render_organization(form, None, status)
    flash(f"{saved.name} is in the network. Invite its first admin from its staff page.", "success")
    return redirect(url_for("netadmin.organizations"), code=303)


@bp.route("/admin/organizations/<uuid:org_id>/edit", methods=["GET", "POST"])
@login_required_roles(Role.admin)
def edit_organization(org_id: uuid.UUID):
    """Rename an organization, change its kind or its directory listing."""
    organization = db.get_or_404(NetworkOrganization, org_id)
    saved, form, status = _organization_form(organization)
    if saved is None:
        return _render_organization(form, organization, status)
    flash(f"Saved {saved.name}.", "success")
    return redirect(url_for("netadmin.organizations"), code=303)


# -- users across the network ------------------------------------------------------------------


@bp.get("/admin/users")
@login_required_roles(Role.admin)
def users():
    """Every account of the network, filtered by organization, role, active state or a name."""
    args = {key: (request.args.get(key) or "").strip() for key in ("org", "role", "active", "q")}
    active = {"yes": True, "no": False}.get(args["active"])
    listed = network.users_page(
        parse_uuid(args["org"]), args["role"], active, args["q"], int_arg("page", 1)
    )
    audit.record(
        current_user._get_current_object(),
        AuditAction.view,
        AuditObject.user,
        None,
        {"list": "network users", **{k: v for k, v in args.items() if v}},
    )
    return render_template(
        "admin/users.html",
        listed=listed,
        args=args,
        roles=list(Role),
        organizations=network.all_organizations(),
        page_url=lambda **kw: page_url("netadmin.users", **kw),
    )
