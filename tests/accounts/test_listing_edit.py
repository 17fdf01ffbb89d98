"""Agencies edit their own listings; every change has a history (issue 12 items 1, 2 and 6).

Each form's checks (a bad phone, closing before opening, an unknown ZIP), who may edit what, the
history rows of an edit and a restore, search following an edit at once, and the HSDS output of
an edited service staying schema-valid. Both databases.
"""

import html as html_module
import io
import json
import re

import pytest
from sqlalchemy import select

from directory.models import ListingChange, Location, Organization, Service
from tests.directory.factories import make_taxonomy_term
from tests.directory.hsds.schemas import assert_valid
from tests.referrals.matrix import statuses_by_role


def _text(response) -> str:
    return response.get_data(as_text=True)


def _error_for(html: str, name: str) -> str | None:
    """The error shown next to input `name` (tied to it by aria-describedby), or None."""
    found = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">([^<]*)</p>', html)
    if found is None:
        return None
    tied = rf'aria-describedby="(?:[^"]* )?{re.escape(name)}-error"'
    assert re.search(tied, html), f"the error of {name} is not tied to its input"
    return html_module.unescape(found[1])


def _service_form(service, **changes) -> dict:
    form = {
        "name": service.name,
        "description": service.description or "",
        "status": "active",
        "referral_capacity": "accepting",
        "eligibility_description": "",
        "minimum_age": "",
        "maximum_age": "",
        "fees_description": "Free",
        "languages": "Spanish",
        "documents": "",
        "application_process": "",
        "phones": "(315) 555-0100 x12",
    }
    return {**form, **changes}


def _org_form(**changes) -> dict:
    form = {
        "name": "Northside Pantry",
        "description": "Groceries for families.",
        "website": "https://northside.example.org",
        "email": "info@northside.example.org",
        "phones": "(315) 555-0199",
    }
    return {**form, **changes}


def _changes(db, organization_id) -> list[ListingChange]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ListingChange)
            .where(ListingChange.organization_id == organization_id)
            .order_by(ListingChange.changed_at, ListingChange.field)
        )
    )


# -- who may edit what -------------------------------------------------------------------------

ROLES = [
    "agency_admin",
    "staff_editor",
    "staff",
    "other_agency_admin",
    "coordinator",
    "admin",
    "anonymous",
]


def expect(*codes):
    return dict(zip(ROLES, codes, strict=True))


EDITORS_GET = expect(200, 200, 403, 403, 403, 200, 302)
EDITORS_POST = expect(303, 303, 403, 403, 403, 303, 302)

PAGES = {
    "organization form": ("GET", "/listings/{organization}/edit", None, EDITORS_GET),
    "service form": ("GET", "/services/{service}/edit", None, EDITORS_GET),
    "hours form": ("GET", "/services/{service}/hours", None, EDITORS_GET),
    "site form": ("GET", "/services/{service}/locations/{location}/edit", None, EDITORS_GET),
    "new site form": ("GET", "/services/{service}/locations/new", None, EDITORS_GET),
    "history": ("GET", "/listings/{organization}/history", None, EDITORS_GET),
    "save organization": ("POST", "/listings/{organization}/edit", _org_form(), EDITORS_POST),
    "save hours": (
        "POST",
        "/services/{service}/hours",
        {"MO_0_opens": "10:00", "MO_0_closes": "14:00"},
        EDITORS_POST,
    ),
    "another agency's service": (
        "GET",
        "/services/{other_service}/edit",
        None,
        expect(403, 403, 403, 200, 403, 200, 302),
    ),
}


@pytest.mark.parametrize("name", PAGES)
def test_who_may_edit_what(name, listing, signed_in):
    method, path, form, expected = PAGES[name]
    url = path.format(
        organization=listing.organization.id,
        service=listing.service.id,
        location=listing.location.id,
        other_service=listing.other_service.id,
    )
    assert statuses_by_role(signed_in, listing.people, method, url, form, ROLES) == expected


def test_a_site_of_another_service_is_not_found(listing, signed_in):
    url = f"/services/{listing.other_service.id}/locations/{listing.location.id}/edit"
    assert signed_in(listing.people["admin"]).get(url).status_code == 404


def test_only_network_admins_restore(db, listing, signed_in):
    signed_in(listing.people["agency_admin"]).post(
        f"/listings/{listing.organization.id}/edit", data=_org_form(name="Northside Food Pantry")
    )
    logged = _changes(db, listing.organization.id)
    change = logged[0]
    for role in ("agency_admin", "staff_editor", "staff", "coordinator", "other_agency_admin"):
        response = signed_in(listing.people[role]).post(f"/listings/changes/{change.id}/restore")
        assert response.status_code == 403, role
    assert len(_changes(db, listing.organization.id)) == len(logged)
    history = _text(
        signed_in(listing.people["agency_admin"]).get(
            f"/listings/{listing.organization.id}/history"
        )
    )
    assert "Restore the earlier value" not in history


def test_edit_links_show_only_to_people_who_may_edit(listing, signed_in):
    page = f"/services/{listing.service.id}"
    for role in ROLES:
        html = _text(signed_in(listing.people[role]).get(page))
        shown = "Edit this listing" in html
        assert shown is (role in ("agency_admin", "staff_editor", "admin")), role
        if shown:
            assert f'href="/services/{listing.service.id}/edit"' in html
            assert f'href="/listings/{listing.organization.id}/history"' in html
    inbox = _text(signed_in(listing.people["agency_admin"]).get("/inbox"))
    assert f'href="/listings/{listing.organization.id}/edit"' in inbox
    assert "Edit this listing" not in _text(signed_in(listing.people["staff"]).get("/inbox"))


def test_agency_admins_give_staff_the_editor_right(db, listing, signed_in):
    staff = listing.people["staff"]
    admin = signed_in(listing.people["agency_admin"])
    assert signed_in(staff).get(f"/services/{listing.service.id}/edit").status_code == 403
    page = _text(admin.get("/account/staff"))
    assert "does not edit the directory listing" in page
    response = admin.post(f"/account/staff/{staff.id}/editor", data={"allowed": "1"})
    assert response.status_code == 303
    assert signed_in(staff).get(f"/services/{listing.service.id}/edit").status_code == 200
    admin.post(f"/account/staff/{staff.id}/editor", data={"allowed": "0"})
    assert signed_in(staff).get(f"/services/{listing.service.id}/edit").status_code == 403
    # Another agency's admin can't hand out the right to our staff.
    other = signed_in(listing.people["other_agency_admin"])
    assert other.post(f"/account/staff/{staff.id}/editor", data={"allowed": "1"}).status_code == 404


# -- the organization form -----------------------------------------------------------------------


def test_a_bad_phone_is_refused_next_to_the_field(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    url = f"/listings/{listing.organization.id}/edit"
    response = client.post(url, data=_org_form(phones="(315) 555-0199\n555-01", email="not mail"))
    assert response.status_code == 422
    html = _text(response)
    assert "Line 2" in _error_for(html, "phones")
    assert "not an email address" in _error_for(html, "email")
    assert "555-01" in html  # what was typed stays in the form
    assert _changes(db, listing.organization.id) == []
    # The same with htmx: the form region alone, errors in place.
    partial = signed_in(listing.people["agency_admin"], htmx=True).post(
        url, data=_org_form(phones="call us")
    )
    assert partial.status_code == 422
    assert _text(partial).lstrip().startswith('<section id="organization-form"')
    assert _error_for(_text(partial), "phones")


def test_an_organization_edit_is_logged_field_by_field(db, listing, signed_in):
    before = db.session.get(Organization, listing.organization.id).last_modified
    client = signed_in(listing.people["staff_editor"])
    response = client.post(
        f"/listings/{listing.organization.id}/edit",
        data=_org_form(name="Northside Food Pantry", phones="315.555.0142 ext. 7"),
    )
    assert response.status_code == 303
    changes = _changes(db, listing.organization.id)
    by_field = {c.field: c for c in changes}
    assert by_field["name"].before == "Northside Pantry"
    assert by_field["name"].after == "Northside Food Pantry"
    assert by_field["phones"].after == "(315) 555-0142 x7"
    assert all(c.changed_by == "ed@pantry.example.org" for c in changes)
    assert all(c.action == "edit" and c.record_type == "organization" for c in changes)
    organization = db.session.get(Organization, listing.organization.id)
    assert organization.last_modified > before
    assert [(p.number, p.extension) for p in organization.phones] == [("(315) 555-0142", 7)]
    # Saving the same values again changes nothing and logs nothing.
    client.post(
        f"/listings/{listing.organization.id}/edit",
        data=_org_form(name="Northside Food Pantry", phones="(315) 555-0142 x7"),
    )
    assert len(_changes(db, listing.organization.id)) == len(changes)


# -- the service form ------------------------------------------------------------------------------


def test_service_form_checks_ages_status_and_categories(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/edit"
    response = client.post(
        url,
        data=_service_form(
            listing.service,
            minimum_age="65",
            maximum_age="18",
            status="open-ish",
            add_categories="No Such Category",
        ),
    )
    assert response.status_code == 422
    html = _text(response)
    assert "below the youngest" in _error_for(html, "maximum_age")
    assert _error_for(html, "status")
    assert "No Such Category" in _error_for(html, "add_categories")


def test_search_finds_the_edited_words_at_once(db, listing, signed_in, client):
    term = make_taxonomy_term(db, name="Diaper Bank", code="DB-1")
    db.session.commit()
    editor = signed_in(listing.people["agency_admin"])
    picker = _text(editor.get("/listings/categories?add_categories=diaper"))
    assert f'value="{term.id}"' in picker and "Diaper Bank" in picker
    response = editor.post(
        f"/services/{listing.service.id}/edit",
        data={
            **_service_form(
                listing.service,
                description="Formula and nappies for babies, every Thursday.",
                languages="Spanish\nHaitian Creole",
                documents="Photo ID",
                minimum_age="0",
                maximum_age="3",
            ),
            "category": [str(term.id)],
        },
    )
    assert response.status_code == 303, _text(response)
    html = _text(client.get("/?q=nappies+formula"))
    assert "Emergency food boxes" in html
    page = _text(client.get(f"/services/{listing.service.id}"))
    assert "Formula and nappies" in page and "Diaper Bank" in page and "Haitian Creole" in page
    fields = {c.field for c in _changes(db, listing.organization.id)}
    assert {"description", "categories", "languages", "documents", "maximum_age"} <= fields


def test_an_edited_service_is_still_schema_valid_hsds(db, listing, signed_in, client):
    editor = signed_in(listing.people["agency_admin"])
    editor.post(
        f"/services/{listing.service.id}/edit",
        data=_service_form(listing.service, documents="Proof of address", phones="(315) 555-0177"),
    )
    editor.post(
        f"/services/{listing.service.id}/hours",
        data={
            "MO_0_opens": "09:00",
            "MO_0_closes": "12:00",
            "MO_1_opens": "13:00",
            "MO_1_closes": "17:00",
            "FR_0_opens": "22:00",
            "FR_0_closes": "02:00",
            "FR_0_overnight": "1",
            "closure_0_date": "2026-12-25",
            "closure_0_note": "Christmas",
        },
    )
    editor.post(
        f"/services/{listing.service.id}/locations/{listing.location.id}/edit",
        data={
            "address_1": "400 Elm St",
            "city": "Utica",
            "state_province": "NY",
            "postal_code": "13501",
            "accessibility": "Step-free entrance",
        },
    )
    data = client.get(f"/hsds/services/{listing.service.id}").get_json()
    assert_valid("compiled/service.json", data)
    assert [p["number"] for p in data["phones"]] == ["(315) 555-0177"]
    assert {d["document"] for d in data["required_documents"]} == {"Proof of address"}
    address = data["service_at_locations"][0]["location"]["addresses"][0]
    assert address["postal_code"] == "13501"
    assert "listing_change" not in json.dumps(data) and "ed@pantry" not in json.dumps(data)
    editor.post(
        f"/listings/{listing.organization.id}/edit",
        data=_org_form(
            website="northside.example.org/about us", email="Intake <INTAKE@Northside.example.org>"
        ),
    )
    organization = client.get(f"/hsds/organizations/{listing.organization.id}").get_json()
    assert_valid("compiled/organization.json", organization)
    assert organization["email"] == "INTAKE@northside.example.org"
    assert organization["website"].startswith("https://northside.example.org/about")
    assert [p["number"] for p in organization["phones"]] == ["(315) 555-0199"]


# -- hours -----------------------------------------------------------------------------------------


def test_closing_before_opening_is_refused_unless_past_midnight(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/hours"
    response = client.post(url, data={"TU_0_opens": "17:00", "TU_0_closes": "09:00"})
    assert response.status_code == 422
    assert "Closing time is before opening time" in _error_for(_text(response), "TU_0_closes")
    bad = client.post(
        url, data={"WE_0_opens": "9", "WE_0_closes": "noonish", "closure_0_date": "soon"}
    )
    assert _error_for(_text(bad), "WE_0_closes") and _error_for(_text(bad), "closure_0_date")
    closed_with_times = client.post(
        url, data={"TH_closed": "1", "TH_0_opens": "9:00", "TH_0_closes": "17:00"}
    )
    assert _error_for(_text(closed_with_times), "TH_0_opens")
    assert _changes(db, listing.organization.id) == []
    ok = client.post(
        url,
        data={
            "TU_0_opens": "17:00",
            "TU_0_closes": "09:00",
            "TU_0_overnight": "1",
            "SA_0_opens": "10:00",
            "SA_0_closes": "12:00",
            "SA_1_opens": "14:00",
            "SA_1_closes": "16:00",
            "closure_0_date": "2026-07-04",
            "closure_0_note": "Independence Day",
        },
    )
    assert ok.status_code == 303
    page = _text(signed_in(None).get(f"/services/{listing.service.id}"))
    assert re.search(r"Tuesday.*5 pm – 9 am", page, re.S)
    assert re.search(r"Saturday.*10 am – noon, 2 pm – 4 pm", page, re.S)
    assert re.search(r"Monday</th>\s*<td[^>]*>Closed", page) or "Monday" in page
    form = _text(client.get(url))
    assert 'name="TU_0_overnight" value="1" checked' in form
    assert 'value="2026-07-04"' in form
    [change] = [c for c in _changes(db, listing.organization.id) if c.field == "hours"]
    assert json.loads(change.after)["closed"] == [["2026-07-04", "Independence Day"]]


def test_open_around_the_clock(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    response = client.post(f"/services/{listing.service.id}/hours", data={"always_open": "1"})
    assert response.status_code == 303
    page = _text(signed_in(None).get(f"/services/{listing.service.id}"))
    assert "Open now" in page or "24 hours" in page.lower() or "Open all day" in page
    history = _text(client.get(f"/listings/{listing.organization.id}/history"))
    assert "Open 24 hours, 7 days a week" in history


# -- a location ------------------------------------------------------------------------------------


def test_an_unknown_zip_is_refused_and_a_known_one_places_the_point(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/locations/{listing.location.id}/edit"
    form = {"address_1": "1 Lake Rd", "city": "Nowhere", "state_province": "NY"}
    response = client.post(url, data={**form, "postal_code": "00000"})
    assert response.status_code == 422
    assert "ZIP" in _error_for(_text(response), "postal_code")
    assert _error_for(_text(client.post(url, data={**form, "postal_code": "1320"})), "postal_code")
    assert _error_for(
        _text(client.post(url, data={**form, "state_province": "Narnia", "postal_code": "13501"})),
        "state_province",
    )
    ok = client.post(
        url, data={**form, "city": "Utica", "postal_code": "13501", "transportation": "Bus 31"}
    )
    assert ok.status_code == 303
    location = db.session.get(Location, listing.location.id)
    db.session.refresh(location)
    assert (
        abs(float(location.latitude) - 43.1) < 0.2 and abs(float(location.longitude) + 75.2) < 0.2
    )
    assert location.physical_address.postal_code == "13501"
    fields = {c.field for c in _changes(db, listing.organization.id)}
    assert {"postal_code", "point", "city", "transportation"} <= fields


def test_a_new_site_is_added_with_its_history(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/locations/new"
    refused = client.post(url, data={"address_1": "", "city": "Utica", "postal_code": "13501"})
    assert refused.status_code == 422 and _error_for(_text(refused), "address_1")
    ok = client.post(
        url,
        data={
            "address_1": "9 Genesee St",
            "city": "Utica",
            "state_province": "ny",
            "postal_code": "13501",
        },
    )
    assert ok.status_code == 303
    service = db.session.get(Service, listing.service.id)
    db.session.refresh(service)
    assert len(service.service_at_locations) == 2
    added = [
        sal.location
        for sal in service.service_at_locations
        if sal.location_id != listing.location.id
    ][0]
    assert added.physical_address.one_line() == "9 Genesee St, Utica, NY 13501"
    assert added.latitude is not None


# -- history and restore ---------------------------------------------------------------------------


def test_history_shows_an_edit_and_a_network_admin_restores_it(db, listing, signed_in, client):
    editor = signed_in(listing.people["agency_admin"])
    editor.post(
        f"/services/{listing.service.id}/edit",
        data=_service_form(
            listing.service, name="Food boxes (weekly)", phones="(315) 555-0100 x12"
        ),
    )
    [change] = [c for c in _changes(db, listing.organization.id) if c.field == "name"]
    assert (change.before, change.after) == ("Emergency food boxes", "Food boxes (weekly)")
    history = _text(
        signed_in(listing.people["admin"]).get(f"/listings/{listing.organization.id}/history")
    )
    assert "Food boxes (weekly)" in history and "eve@pantry.example.org" in history
    assert "Restore the earlier value" in history
    response = signed_in(listing.people["admin"]).post(f"/listings/changes/{change.id}/restore")
    assert response.status_code == 303
    service = db.session.get(Service, listing.service.id)
    db.session.refresh(service)
    assert service.name == "Emergency food boxes"
    restore = [c for c in _changes(db, listing.organization.id) if c.action == "restore"]
    assert len(restore) == 1
    assert (restore[0].field, restore[0].before, restore[0].after) == (
        "name",
        "Food boxes (weekly)",
        "Emergency food boxes",
    )
    assert restore[0].restored_from_id == change.id
    assert restore[0].changed_by == "gia@network.example.org"
    # The search follows the restore too.
    assert "Emergency food boxes" in _text(client.get("/?q=emergency+food+boxes"))
    # Restoring again: nothing to put back, said plainly, nothing logged.
    again = signed_in(listing.people["admin"]).post(f"/listings/changes/{change.id}/restore")
    assert again.status_code == 303
    assert len([c for c in _changes(db, listing.organization.id) if c.action == "restore"]) == 1


def test_a_change_can_carry_the_suggestion_it_came_from(db, listing, signed_in):
    import uuid

    from accounts.listing_links import prefilled_edit_url

    suggestion = uuid.uuid4()
    with signed_in(listing.people["agency_admin"]).application.test_request_context():
        url = prefilled_edit_url(
            "organization", listing.organization.id, {"phones": "(315) 555-0123"}, suggestion
        )
    client = signed_in(listing.people["agency_admin"])
    form = _text(client.get(url))
    assert "(315) 555-0123" in form and f'name="suggestion_id" value="{suggestion}"' in form
    client.post(
        f"/listings/{listing.organization.id}/edit",
        data={**_org_form(phones="(315) 555-0123"), "suggestion_id": str(suggestion)},
    )
    [change] = [c for c in _changes(db, listing.organization.id) if c.field == "phones"]
    assert change.suggestion_id == suggestion


# -- service areas ---------------------------------------------------------------------------------


def _polygon(closed: bool = True) -> bytes:
    ring = [[-76.2, 43.0], [-76.1, 43.0], [-76.1, 43.1], [-76.2, 43.1]]
    if closed:
        ring.append(ring[0])
    return json.dumps({"type": "Polygon", "coordinates": [ring]}).encode()


def test_a_polygon_that_does_not_close_is_refused(db, listing, signed_in):
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/areas"
    response = client.post(
        url,
        data={
            "polygon_name": "Downtown",
            "polygon_file": (io.BytesIO(_polygon(False)), "a.geojson"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "does not close" in _error_for(_text(response), "polygon_file")
    unknown = client.post(url, data={"counties": "Narnia County, NY", "zip_codes": "13202 00000"})
    assert _error_for(_text(unknown), "counties") and _error_for(_text(unknown), "zip_codes")
    assert _changes(db, listing.organization.id) == []


def test_service_areas_by_county_zip_and_polygon(db, listing, signed_in, client):
    editor = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/areas"
    form = _text(editor.get(url))
    assert 'name="keep_area"' in form  # the area made with the service, kept unless unticked
    response = editor.post(
        url,
        data={
            "counties": "onondaga, ny",
            "zip_codes": "13202, 13501",
            "polygon_name": "Downtown",
            "polygon_file": (io.BytesIO(_polygon()), "downtown.geojson"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, _text(response)
    service = db.session.get(Service, listing.service.id)
    db.session.refresh(service)
    names = sorted(a.name for a in service.service_areas)
    assert names == ["Downtown", "Onondaga County, NY", "ZIP 13202", "ZIP 13501"]
    [drawn] = [a for a in service.service_areas if a.name == "Downtown"]
    assert drawn.geom is not None and drawn.extent_type == "geojson"
    [change] = [c for c in _changes(db, listing.organization.id) if c.field == "areas"]
    history = _text(editor.get(f"/listings/{listing.organization.id}/history"))
    assert "Downtown (a drawn area)" in history and "Onondaga County, NY" in history
    data = client.get(f"/hsds/services/{listing.service.id}").get_json()
    assert_valid("compiled/service.json", data)
    assert {a["name"] for a in data["service_areas"]} == set(names)
    # A network admin puts the old area back.
    signed_in(listing.people["admin"]).post(f"/listings/changes/{change.id}/restore")
    db.session.expire_all()
    service = db.session.get(Service, listing.service.id)
    assert [a.name for a in service.service_areas] == [change_area_name(change.before)]


def change_area_name(before: str) -> str:
    [[name, _type, _extent]] = json.loads(before)
    return name


def test_categories_typed_by_name_without_javascript(db, listing, signed_in):
    diapers = make_taxonomy_term(db, name="Diaper Bank", code="DB-1")
    make_taxonomy_term(db, name="Baby Formula Pantry")
    make_taxonomy_term(db, name="Baby Clothes")
    db.session.commit()
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/edit"
    ambiguous = client.post(url, data=_service_form(listing.service, add_categories="baby"))
    assert "Several categories match 'baby'" in _error_for(_text(ambiguous), "add_categories")
    ok = client.post(url, data=_service_form(listing.service, add_categories="diaper bank"))
    assert ok.status_code == 303
    form = _text(client.get(url))
    assert f'name="category" value="{diapers.id}" checked' in form


def test_hours_the_form_cannot_show_are_kept(db, listing, signed_in):
    from directory.models import Schedule

    service = db.session.get(Service, listing.service.id)
    service.schedules.append(
        Schedule(freq="MONTHLY", byday="1SA", opens_at="10:00", closes_at="12:00")
    )
    service.schedules.append(Schedule(freq="WEEKLY", byday="SU", opens_at="9ish", closes_at="noon"))
    db.session.commit()
    client = signed_in(listing.people["agency_admin"])
    url = f"/services/{listing.service.id}/hours"
    assert client.get(url).status_code == 200
    assert client.post(url, data={"WE_0_opens": "08:00", "WE_0_closes": "11:00"}).status_code == 303
    db.session.expire_all()
    kept = {
        (s.freq, s.byday, s.opens_at) for s in db.session.get(Service, listing.service.id).schedules
    }
    assert kept == {
        ("MONTHLY", "1SA", "10:00"),
        ("WEEKLY", "SU", "9ish"),
        ("WEEKLY", "WE", "08:00"),
    }
