"""Importing the contact values real 211 exports hold: scheme-less websites, odd emails, phones
with extensions and letters, spelt-out states, ZIP+4, points far from their ZIP code."""

import re
from pathlib import Path

from sqlalchemy import select

from directory.hsds.importing import import_path
from directory.models import (
    Address,
    Contact,
    Location,
    Organization,
    Phone,
    ReviewFlag,
    Service,
)

VALUES = Path(__file__).resolve().parents[2] / "data" / "import" / "legacy_values"


def _import(db):
    report = import_path(VALUES)
    db.session.commit()
    return report


def _by_name(db, model) -> dict:
    return {row.name: row for row in db.session.scalars(select(model))}


def _warnings(report) -> dict[str, str]:
    return {f"{w.origin.file} {w.origin.where}": w.reason for w in report.warnings}


def test_websites_get_a_scheme_and_what_is_no_web_address_is_dropped_with_a_warning(db):
    report = _import(db)

    organizations = _by_name(db, Organization)
    assert organizations["Hope Pantry"].website == "https://www.hope.example"
    assert organizations["Westside Shelter"].website == "https://westside.example/beds"
    assert organizations["Northside Legal"].website is None  # "see flyer"
    services = _by_name(db, Service)
    assert services["Food Pantry"].url == "https://hope.example/pantry"
    assert services["Emergency Beds"].url == "http://westside.example"  # "http//westside..."
    assert services["Legal Clinic"].url is None  # ftp://
    warnings = _warnings(report)
    assert warnings["organizations.csv row 4"] == (
        "website: 'see flyer' is not a web address; left empty"
    )
    assert warnings["services.csv row 4"].startswith(
        "url: 'ftp://legal.example/forms' is not a web address (http or https)"
    )
    assert report.rejected == []


def test_emails_are_trimmed_and_checked(db):
    report = _import(db)

    organizations = _by_name(db, Organization)
    assert organizations["Hope Pantry"].email == "Info@hope.example"  # "mailto:Info@Hope.EXAMPLE"
    assert organizations["Westside Shelter"].email is None
    assert organizations["Northside Legal"].email == "help@legal.example"  # "Legal Desk <...>"
    services = _by_name(db, Service)
    assert services["Food Pantry"].email == "pantry@hope.example"
    assert services["Emergency Beds"].email is None  # "not-an-email"
    contacts = _by_name(db, Contact)
    assert contacts["Ana Ruiz"].email == "ANA@hope.example"
    assert contacts["Ben Ortiz"].email is None  # "ben(at)westside.example"
    warnings = _warnings(report)
    assert "'not-an-email' is not an email address" in warnings["services.csv row 3"]
    refused = warnings["organizations.csv row 3"]
    assert "'intake at westside dot example' is not an email" in refused
    assert "'ben(at)westside.example' is not an email" in warnings["contacts.csv row 3"]


def test_phone_numbers_are_formatted_with_extensions_kept_and_tel_links_that_dial(db):
    report = _import(db)

    phones = {p.description: p for p in db.session.scalars(select(Phone))}
    stored = {name: (p.number, p.extension, p.tel_uri) for name, p in phones.items()}
    assert stored == {
        "Front desk": ("(315) 555-0100", 123, "tel:+13155550100;ext=123"),  # "315.555.0100 x123"
        "Donations": ("1-800-FLOWERS", None, "tel:+18003569377"),
        "After hours": ("211", None, "tel:211"),  # "2-1-1"
        "Walk-ins": ("Call the front desk", None, None),  # kept as written, no link
        "Intake": ("(315) 555-0104", 7, "tel:+13155550104;ext=7"),  # the extension column wins
        "London office; Interpretation available": ("+44 20 7946 0958", None, "tel:+442079460958"),
    }
    warnings = _warnings(report)
    assert warnings["phones.csv row 5"] == (
        "number: 'Call the front desk' is not a phone number; kept as written"
    )
    assert warnings["phones.csv row 6"] == "number has extension 5 but extension is 7; kept 7"


def test_states_become_codes_and_zip_plus_four_is_kept(db):
    _import(db)

    addresses = {a.address_1: a for a in db.session.scalars(select(Address))}
    assert (addresses["100 Main St"].state_province, addresses["100 Main St"].postal_code) == (
        "NY",  # "New York"
        "13202-1234",
    )
    assert (addresses["5 West St"].state_province, addresses["5 West St"].postal_code) == (
        "NY",  # "ny"
        "13204",
    )
    assert (addresses["1 Court Sq"].state_province, addresses["1 Court Sq"].postal_code) == (
        "NY",  # "N.Y."
        "13202-1234",  # "132021234"
    )


def test_languages_are_split_creole_is_haitian_and_notes_are_kept_on_the_service(db):
    report = _import(db)

    services = _by_name(db, Service)
    spoken = {
        name: sorted((lang.code, lang.name) for lang in s.languages) for name, s in services.items()
    }
    assert spoken == {
        "Food Pantry": [("en", "English"), ("es", "Spanish"), ("fr", "French")],  # one cell
        "Emergency Beds": [("es", "Spanish"), ("ht", "Haitian Creole")],  # "Creole"
        "Legal Clinic": [],  # "Others available upon request" is no language
    }
    assert services["Legal Clinic"].interpretation_services == "Others available upon request"
    assert services["Emergency Beds"].interpretation_services == "all languages via interpreter"
    london = db.session.scalars(select(Phone).where(Phone.number == "+44 20 7946 0958")).one()
    assert [lang.code for lang in london.languages] == ["en"]
    assert london.description == "London office; Interpretation available"
    # A note that belongs to no service is reported, not taken for a language or rejected.
    assert _warnings(report)["languages.csv row 6"] == (
        "'Interpretation available' is no language; skipped"
    )
    assert report.rejected == []


def test_a_point_far_from_its_zip_code_is_kept_and_flagged_once(db):
    report = _import(db)

    locations = _by_name(db, Location)
    far = locations["Westside Site"]  # in New York City, with a Syracuse ZIP code
    assert (float(far.latitude), float(far.longitude)) == (40.7128, -74.006)
    assert far.geom is not None  # kept on the map, for a person to check
    (flag,) = db.session.scalars(select(ReviewFlag)).all()
    assert (flag.record_table, flag.record_id, flag.reason) == ("location", far.id, "far_from_zip")
    assert re.search(r"is 31\d km from ZIP code 13204", flag.detail)
    assert flag.resolved_at is None
    assert flag.import_run_id is None  # no ImportRun is recorded by import_path itself
    warning = _warnings(report)["locations.csv row 3"]
    assert warning.endswith("of its address; kept, flagged for review")
    # Near ones are not flagged (Hope Main is in its ZIP, Legal Office 1 km from it).
    assert locations["Hope Main"].geom is not None and locations["Legal Office"].geom is not None

    again = _import(db)
    assert not again.changed()
    assert len(db.session.scalars(select(ReviewFlag)).all()) == 1  # not flagged twice

    flag.resolved_at = flag.created_at  # a person checked it: the same finding stays resolved
    db.session.commit()
    _import(db)
    assert [f.resolved_at is not None for f in db.session.scalars(select(ReviewFlag))] == [True]


def test_the_service_page_links_what_can_be_dialled_and_shows_the_rest(db, client):
    _import(db)
    services = _by_name(db, Service)

    html = client.get(f"/services/{services['Food Pantry'].id}").get_data(as_text=True)
    assert 'href="tel:+13155550100;ext=123"' in html
    assert 'href="tel:+18003569377">1-800-FLOWERS</a>' in html
    assert 'href="https://hope.example/pantry"' in html
    assert 'href="mailto:pantry@hope.example"' in html

    html = client.get(f"/services/{services['Emergency Beds'].id}").get_data(as_text=True)
    assert 'href="tel:211"' in html
    assert '<span class="phone">Call the front desk</span>' in html  # text, not a broken link
    assert not re.search(r'href="tel:[^"+0-9]', html)
    assert "not-an-email" not in html
