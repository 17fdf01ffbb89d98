"""Sign-in, sign-out, password reset, the user's own account, agency staff management, and the
network admin's history of directory imports (the directory knows no roles, so it lives here)."""

import contextlib
import uuid
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts.auth import (
    check_session,
    end_session,
    landing_url,
    login_required_roles,
    nav_links,
    refresh_session,
    register_nav_link,
    safe_next_path,
    start_session,
)
from accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    ResetPasswordForm,
    ResponseWindowsForm,
    StaffForm,
)
from accounts.limits import (
    mark_failed_sign_in,
    reset_per_email,
    reset_per_ip,
    sign_in_per_email,
    sign_in_per_ip,
)
from accounts.listing_rights import set_listing_editor
from accounts.models import NetworkOrganization, OrgKind, Role, User
from accounts.services import (
    RESPONSE_WINDOWS,
    ROLE_LABELS,
    AccountError,
    AccountInactive,
    InvalidWindows,
    authenticate,
    can_manage_organization,
    can_manage_user,
    change_password,
    check_reset_token,
    invite_user,
    request_password_reset,
    reset_password,
    roles_for_organization,
    send_invitation,
    set_response_windows,
    set_user_active,
    sign_out_everywhere,
    validate_email,
)
from directory.hsds.importing import runs as import_runs
from directory.models import ImportRun
from extensions import db, htmx
from web.unit_of_work import discard

bp = Blueprint("accounts", __name__)

WRONG_CREDENTIALS = "Email or password is incorrect."


@bp.before_app_request
def _forget_previous_request() -> None:
    # `g` lives on the app context, which a caller (a test, a script) may share across requests:
    # who is signed in, and what happened in the last request, must never carry over.
    for key in ("_login_user", "api_user", "sign_in_failed", "mail_failures", "session_touched"):
        g.pop(key, None)
    check_session()


@bp.app_context_processor
def _navigation():
    return {"nav_links": nav_links, "role_label": lambda role: ROLE_LABELS.get(role, role)}


@contextlib.contextmanager
def _unique(conflict_message: str):
    """Run a write to the end of its flush; a unique-constraint race (the same email saved twice
    at once) becomes a clear AccountError, with the failed write undone."""
    try:
        yield
        db.session.flush()
    except IntegrityError as exc:
        discard()
        raise AccountError(conflict_message) from exc


def _form_error(form, exc: AccountError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


# -- sign in and out -------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@sign_in_per_ip
@sign_in_per_email
def login():
    """Sign in with email and password, then go back to the page that asked for it."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next_path(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(form.next.data or landing_url(current_user))
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except AccountInactive as exc:
            user, error = None, exc.message
        if user is not None:
            start_session(user)
            flash(f"Signed in as {user.display_name}.", "success")
            return redirect(safe_next_path(form.next.data) or landing_url(user), code=303)
        error = error or WRONG_CREDENTIALS
    if request.method == "POST":
        mark_failed_sign_in()
    return render_template("accounts/login.html", form=form, error=error)


@bp.post("/logout")
def logout():
    """Sign out (a POST with a CSRF token, so no other site can sign people out)."""
    end_session()
    flash("You're signed out.", "success")
    return redirect(url_for("accounts.login"), code=303)


@bp.errorhandler(429)
def too_many_requests(exc):
    """Say plainly that the limit was hit, on the same form, so people know what to do."""
    if request.endpoint == "accounts.login":
        form = LoginForm()
        return render_template("accounts/login.html", form=form, error=exc.description), 429
    if request.endpoint == "accounts.forgot_password":
        form = ForgotPasswordForm()
        return render_template("accounts/forgot.html", form=form, error=exc.description), 429
    return render_template("error.html", error=exc), 429


# -- passwords -------------------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@reset_per_ip
@reset_per_email
def forgot_password():
    """Ask for a reset link by email; the answer is the same whether the account exists or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            email = validate_email(form.email.data)
        except AccountError as exc:
            _form_error(form, exc)
        else:
            request_password_reset(email)
            return render_template("accounts/forgot_sent.html", email=email)
    return render_template("accounts/forgot.html", form=form, error=None)


@bp.route("/password/reset/<token>", methods=["GET", "POST"], endpoint="reset_password")
def reset_password_page(token: str):
    """Choose a new password through a single-use link from an email."""
    try:
        record = check_reset_token(token)
    except AccountError as exc:
        response = render_template("accounts/reset_invalid.html", message=exc.message)
        return response, 410, {"Referrer-Policy": "no-referrer"}
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            with _unique("This link has already been used. Ask for a new one if you need it."):
                reset_password(token, form.password.data)
        except AccountError as exc:
            if exc.field is None:
                response = render_template("accounts/reset_invalid.html", message=exc.message)
                return response, 410, {"Referrer-Policy": "no-referrer"}
            _form_error(form, exc)
        else:
            end_session()
            flash("Your password is saved. Sign in with it now.", "success")
            return redirect(url_for("accounts.login"), code=303)
    page = render_template("accounts/reset.html", form=form, email=record.user.email)
    return page, 200, {"Referrer-Policy": "no-referrer"}


# -- the user's own account ------------------------------------------------------------------


@bp.get("/account")
@login_required_roles()
def account():
    """The signed-in user's own details, and a form to change their password."""
    return render_template("accounts/account.html", form=ChangePasswordForm())


@bp.post("/account/password")
@login_required_roles()
def account_password():
    """Change one's own password; other sessions and API tokens of this user end."""
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            change_password(user, form.current_password.data, form.password.data)
            refresh_session(user)
        except AccountError as exc:
            _form_error(form, exc)
        else:
            flash("Your password is changed.", "success")
            return redirect(url_for("accounts.account"), code=303)
    return render_template("accounts/account.html", form=form), 422


@bp.post("/account/sessions/revoke")
@login_required_roles()
def sign_out_everywhere_own():
    """End all of one's own sessions and API tokens, this one included (a lost device)."""
    user = current_user._get_current_object()
    sign_out_everywhere(user, user)
    end_session()
    flash("You're signed out everywhere. Sign in again here.", "success")
    return redirect(url_for("accounts.login"), code=303)


# -- staff management ------------------------------------------------------------------------


def _organization_to_manage() -> NetworkOrganization | None:
    """The organization named by ?org= that the current user may manage (404 otherwise)."""
    org_param = request.values.get("org")
    if org_param:
        try:
            organization = db.session.get(NetworkOrganization, uuid.UUID(org_param))
        except ValueError:
            abort(404)
    elif current_user.organization_id is not None:
        organization = current_user.organization
    else:
        return None
    if organization is None or not can_manage_organization(current_user, organization):
        abort(404)
    return organization


def _staff_form(organization: NetworkOrganization) -> StaffForm:
    form = StaffForm()
    form.role.choices = [
        (str(role), ROLE_LABELS[role].capitalize()) for role in roles_for_organization(organization)
    ]
    return form


@bp.route("/account/staff", methods=["GET", "POST"])
@login_required_roles(Role.agency_admin, Role.admin)
def staff():
    """List an organization's people, add one (they get an invitation), deactivate others."""
    organization = _organization_to_manage()
    if organization is None:
        organizations = db.session.scalars(
            select(NetworkOrganization).order_by(NetworkOrganization.name)
        ).all()
        return render_template(
            "accounts/staff_pick.html",
            organizations=organizations,
            title="Staff",
            intro="Choose an organization to see and manage its people.",
            endpoint="accounts.staff",
        )
    form = _staff_form(organization)
    status = 200
    if form.validate_on_submit():
        try:
            with _unique("An account with that email already exists."):
                user = invite_user(
                    form.email.data,
                    form.role.data,
                    organization.id,
                    full_name=form.full_name.data or "",
                    invited_by=current_user._get_current_object(),
                )
        except AccountError as exc:
            _form_error(form, exc)
        else:
            _flash_invitation(user)
            return redirect(url_for("accounts.staff", org=organization.id), code=303)
    if form.errors or form.form_errors:
        status = 422
    members = db.session.scalars(
        select(User)
        .where(User.organization_id == organization.id)
        .order_by(User.active.desc(), User.full_name, User.email)
    ).all()
    return (
        render_template(
            "accounts/staff.html",
            organization=organization,
            members=members,
            form=form,
        ),
        status,
    )


def _flash_invitation(user: User) -> None:
    # The email waits in the outbox (`flask referrals deliver`); a mail outage delays it only.
    flash(f"We're emailing {user.email} a link to choose their password.", "success")


def _managed_user(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    # Someone else's staff are "not found", not "forbidden": their existence isn't ours to show.
    if user is None or not can_manage_user(current_user, user):
        abort(404)
    return user


def _row_response(user: User, error: str | None = None):
    if htmx and not htmx.history_restore_request:
        page = render_template("accounts/_staff_row.html", member=user, error=error)
        return page, 422 if error else 200
    if error:
        flash(error, "error")
    return redirect(url_for("accounts.staff", org=user.organization_id), code=303)


def _row_action(user_id: uuid.UUID, act, done) -> object:
    """Run `act(actor, user)` on a managed person's row; `done(user)` is the flash after a
    full-page post (with htmx the row itself shows the result)."""
    user = _managed_user(user_id)
    try:
        act(current_user._get_current_object(), user)
    except AccountError as exc:
        return _row_response(user, exc.message)
    if not (htmx and not htmx.history_restore_request):
        flash(done(user), "success")
    return _row_response(user)


def _change_active(user_id: uuid.UUID, active: bool):
    verb = "reactivated" if active else "deactivated"
    return _row_action(
        user_id,
        lambda actor, user: set_user_active(actor, user, active),
        lambda user: f"{user.display_name}'s account is {verb}.",
    )


@bp.post("/account/staff/<uuid:user_id>/deactivate")
@login_required_roles(Role.agency_admin, Role.admin)
def deactivate_staff(user_id: uuid.UUID):
    """Stop someone signing in (they left, or their account is compromised)."""
    return _change_active(user_id, active=False)


@bp.post("/account/staff/<uuid:user_id>/activate")
@login_required_roles(Role.agency_admin, Role.admin)
def activate_staff(user_id: uuid.UUID):
    """Let a deactivated person sign in again."""
    return _change_active(user_id, active=True)


@bp.post("/account/staff/<uuid:user_id>/sessions/revoke")
@login_required_roles(Role.agency_admin, Role.admin)
def sign_out_staff_everywhere(user_id: uuid.UUID):
    """End every session and API token of someone (a shared or stolen device); they stay active."""
    return _row_action(
        user_id, sign_out_everywhere, lambda user: f"{user.display_name} is signed out everywhere."
    )


@bp.post("/account/staff/<uuid:user_id>/editor")
@login_required_roles(Role.agency_admin, Role.admin)
def set_staff_editor(user_id: uuid.UUID):
    """Let a staff member edit the agency's directory listing, or stop them ("allowed" = 1/0)."""
    allowed = request.form.get("allowed") == "1"
    verb = "may now edit" if allowed else "can no longer edit"
    return _row_action(
        user_id,
        lambda actor, user: set_listing_editor(actor, user, allowed),
        lambda user: f"{user.display_name} {verb} the directory listing.",
    )


@bp.post("/account/staff/<uuid:user_id>/invite")
@login_required_roles(Role.agency_admin, Role.admin)
def reinvite_staff(user_id: uuid.UUID):
    """Send a new 'choose your password' link (the last one expired or got lost)."""
    return _row_action(
        user_id,
        lambda actor, user: send_invitation(user, actor),
        lambda user: f"We're emailing {user.email} a new link.",
    )


# -- response windows ------------------------------------------------------------------------


@bp.route("/account/response-windows", methods=["GET", "POST"])
@login_required_roles(Role.agency_admin, Role.admin)
def response_windows():
    """How long an agency has to answer referrals of each urgency, set by its own admins or a
    network admin."""
    organization = _organization_to_manage()
    if organization is None:
        agencies = db.session.scalars(
            select(NetworkOrganization)
            .where(NetworkOrganization.kind == OrgKind.agency)
            .order_by(NetworkOrganization.name)
        ).all()
        return render_template(
            "accounts/staff_pick.html",
            organizations=agencies,
            title="Response windows",
            intro="Choose an agency to set how long it has to answer referrals.",
            endpoint="accounts.response_windows",
        )
    if not organization.is_agency:
        abort(404)  # coordination organizations receive no referrals
    form = ResponseWindowsForm(obj=organization)
    if form.validate_on_submit():
        values = {name: form[name].data for name in RESPONSE_WINDOWS}
        try:
            set_response_windows(current_user._get_current_object(), organization, values)
        except InvalidWindows as exc:  # the 422 below writes nothing
            for name, message in exc.errors.items():
                form[name].errors = [*form[name].errors, message]
        except AccountError as exc:
            _form_error(form, exc)
        else:
            flash("Saved. Referrals sent from now on get these windows.", "success")
            return redirect(url_for("accounts.response_windows", org=organization.id), code=303)
    status = 422 if form.errors or form.form_errors else 200
    return (
        render_template(
            "accounts/response_windows.html",
            organization=organization,
            form=form,
            rules=RESPONSE_WINDOWS,
        ),
        status,
    )


# -- directory imports (network admins) --------------------------------------------------------

register_nav_link("Imports", "accounts.imports", roles=(Role.admin,), order=88)


@bp.get("/admin/imports")
@login_required_roles(Role.admin)
def imports():
    """What was loaded into the directory, when and by whom, and what imports left to check."""
    found, pages = import_runs.list_runs(request.args.get("page", 1, type=int))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template(
        "admin/imports.html",
        runs=found,
        page=page,
        pages=pages,
        flags=import_runs.open_flags(),
        open_count=import_runs.count_open_flags(),
    )


@bp.get("/admin/imports/<uuid:run_id>/report.csv")
@login_required_roles(Role.admin)
def import_report(run_id: uuid.UUID):
    """A run's full report: every rejection, warning, repair and retirement, as CSV."""
    run = db.get_or_404(ImportRun, run_id)
    path = Path(run.report_path) if run.report_path else None
    if path is None or not path.is_file():
        abort(404, description="This run's report file is no longer on the server.")
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=path.name)


@bp.post("/admin/review/<uuid:flag_id>/resolve")
@login_required_roles(Role.admin)
def resolve_review_flag(flag_id: uuid.UUID):
    """Mark a record an import flagged (a placeholder organization...) as checked."""
    flag = import_runs.resolve_flag(flag_id, current_user.email)
    if flag is None:
        abort(404)
    flash("Marked as checked.", "success")
    return redirect(url_for("accounts.imports"), code=303)
