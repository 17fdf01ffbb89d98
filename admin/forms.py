"""The network admin's forms: an uploaded import, a network organization (CSRF through
Flask-WTF; the rules live in services)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from accounts.models import OrgKind
from accounts.services import KIND_LABELS


class ImportUploadForm(FlaskForm):
    export = FileField("HSDS export (.zip)", render_kw={"accept": ".zip,application/zip"})
    dataset = StringField("Dataset name (optional)", validators=[Length(max=200)])
    submit = SubmitField("Upload and import")


class NetworkOrganizationForm(FlaskForm):
    """The linked listing is picked by searching the directory: `find` shows the matches as
    choices (no JavaScript needed); an empty choice unlinks it."""

    name = StringField("Name", validators=[Length(max=500)])
    kind = RadioField(
        "Kind",
        choices=[SelectChoice(kind.value, KIND_LABELS[kind].capitalize()) for kind in OrgKind],
        validate_choice=False,  # checked by the service, with its message
    )
    directory_search = StringField("Find its directory listing", validators=[Length(max=200)])
    find = SubmitField("Search the directory")
    directory_organization_id = RadioField("Directory listing", choices=[], validate_choice=False)
    submit = SubmitField("Save")
