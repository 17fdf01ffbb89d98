"""Sign-in, password, staff, response-window, listing-claim and suggest-a-fix forms (CSRF
through Flask-WTF; the rules live in services)."""

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from accounts.models import SUGGESTION_KIND_LABELS


class LoginForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter your email address."), Length(max=320)]
    )
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()
    submit = SubmitField("Sign in")


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter your email address."), Length(max=320)]
    )
    submit = SubmitField("Email me a link")


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired("Enter a new password.")])
    confirm = PasswordField(
        "New password again",
        validators=[
            InputRequired("Enter the new password again."),
            EqualTo("password", "The two passwords are not the same."),
        ],
    )
    submit = SubmitField("Save my password")


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(
        "Current password", validators=[InputRequired("Enter your current password.")]
    )
    submit = SubmitField("Change my password")


class StaffForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter their email address."), Length(max=320)]
    )
    full_name = StringField("Full name", validators=[Length(max=200)])
    role = SelectField("Role", validate_choice=True)
    submit = SubmitField("Add and send an invitation")


_WHOLE_NUMBER = {"inputmode": "numeric", "autocomplete": "off", "size": 4}


class ResponseWindowsForm(FlaskForm):
    """The bounds are checked by accounts.services.check_response_windows, which also reads the
    command line's values, so the fields are plain text here."""

    emergency_window_hours = StringField("Emergency: hours", render_kw=_WHOLE_NUMBER)
    urgent_window_business_days = StringField("Urgent: business days", render_kw=_WHOLE_NUMBER)
    response_window_business_days = StringField("Routine: business days", render_kw=_WHOLE_NUMBER)
    submit = SubmitField("Save the response windows")


class ClaimForm(FlaskForm):
    """'Work here? Manage this listing': the rules (email, phone, duplicates) live in
    accounts.claims; the form carries the CSRF token and keeps what was typed."""

    name = StringField("Your name", validators=[Length(max=400)])
    email = EmailField("Work email", validators=[Length(max=400)])
    phone = TelField("Work phone (optional)", validators=[Length(max=100)])
    message = TextAreaField("Anything the network admin should know (optional)")
    submit = SubmitField("Ask to manage this listing")


class SuggestFixForm(FlaskForm):
    """'Something wrong? Suggest a fix': the rules live in accounts.suggestions. `website` is
    the honeypot (hidden from people, filled by bots); `started` the signed time it opened."""

    kind = RadioField(
        "What is wrong?",
        choices=[SelectChoice(str(kind), label) for kind, label in SUGGESTION_KIND_LABELS.items()],
        validate_choice=False,
    )
    correction = TextAreaField("What should it say?", validators=[Length(max=4000)])
    contact_email = EmailField("Your email (optional)", validators=[Length(max=400)])
    website = StringField("Leave this empty")
    started = HiddenField()
    submit = SubmitField("Send the fix")
