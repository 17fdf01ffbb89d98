"""The public directory pages: search, a service's page and "my list", with and without htmx.

Everything here is what a member on an old phone (often without JavaScript) or a screen reader
user depends on: plain GET forms and POST forms that redirect, the same URL answering htmx with
only its partial, a page that says what went wrong instead of failing.
"""

import re
import uuid
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from directory import hours
from directory.models import RequiredDocument, Service
from extensions import utcnow
from tests.directory.factories import make_organization, make_service

STATIC = Path(__file__).resolve().parents[2] / "static"


# ---------------------------------------------------------------- a tiny HTML inspector


class Page(HTMLParser):
    """Just enough of the DOM to check structure: elements with attributes, text, labels."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "area", "col", "wbr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.label_for: set[str] = set()
        self.labelled_by_wrapping: set[int] = set()
        self._open_labels = 0
        self.text_parts: list[str] = []
        self.html = html
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {k: (v if v is not None else "") for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "label":
            self._open_labels += 1
            if "for" in attributes:
                self.label_for.add(attributes["for"])
        if tag in ("input", "select", "textarea") and self._open_labels:
            self.labelled_by_wrapping.add(len(self.elements) - 1)

    def handle_endtag(self, tag):
        if tag == "label" and self._open_labels:
            self._open_labels -= 1

    def handle_data(self, data):
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.text_parts))

    def find_all(self, tag: str, **attrs) -> list[dict]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def unlabelled_fields(self) -> list[dict]:
        missing = []
        for index, (tag, attrs) in enumerate(self.elements):
            if tag not in ("input", "select", "textarea"):
                continue
            if attrs.get("type") in ("hidden", "submit", "button"):
                continue
            labelled = (
                attrs.get("id") in self.label_for
                or index in self.labelled_by_wrapping
                or attrs.get("aria-label")
                or attrs.get("aria-labelledby")
            )
            if not labelled:
                missing.append(attrs)
        return missing


def assert_accessible_page(html: str) -> Page:
    """The checks every public page must pass (a smoke test, not an audit)."""
    page = Page(html)
    assert page.find_all("html")[0].get("lang") == "en"
    assert len(page.find_all("h1")) == 1, "one h1 per page"
    assert page.find_all("header", role="banner") and page.find_all("main", id="main")
    assert page.find_all("footer", role="contentinfo")
    assert page.find_all("a", href="#main"), "a skip link"
    assert page.unlabelled_fields() == []
    ids = [a["id"] for _, a in page.elements if a.get("id")]
    assert len(ids) == len(set(ids)), f"duplicate ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert page.find_all("meta", name="viewport")
    return page


# ---------------------------------------------------------------- a service's page


def _service_page(client, service_id) -> tuple[str, Page]:
    response = client.get(f"/services/{service_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, assert_accessible_page(html)


def test_service_page_shows_what_a_person_needs_to_go_or_call(db, client, create_org):
    service = make_service(
        db,
        name="Westside Food Pantry",
        assured_date=date(2025, 3, 4),
        application_process="Walk in during open hours.",
        wait_time="About 15 minutes",
    )
    service.required_documents.append(RequiredDocument(document="Proof of address"))
    db.session.commit()

    before = utcnow()
    html, page = _service_page(client, service.id)
    after = utcnow()

    assert page.find_all("h1")[0] is not None and "Westside Food Pantry" in page.text
    assert service.organization.name in page.text
    # Call: the number as a tel: link with its extension.
    assert page.find_all("a", href="tel:+13155550100;ext=12")
    # Directions: a plain link to OpenStreetMap (nothing loaded from it).
    assert page.find_all(
        "a", href="https://www.openstreetmap.org/directions?to=43.048122%2C-76.147424"
    )
    assert re.search(r"\d+ Main Street, Syracuse, NY 13202", page.text)
    # Hours as a weekly table, today marked.
    rows = re.findall(r'<tr([^>]*)>\s*<th scope="row">(\w+).*?</th>\s*<td>([^<]*)</td>', html)
    assert [(day, text) for _, day, text in rows] == [
        *[(day, "9 am – 5 pm") for day in ("Monday", "Tuesday", "Wednesday", "Thursday")],
        ("Friday", "9 am – 5 pm"),
        ("Saturday", "Closed"),
        ("Sunday", "Closed"),
    ]
    today = datetime.now(ZoneInfo("America/New_York")).strftime("%A")
    assert [day for attrs, day, _ in rows if 'aria-current="date"' in attrs] == [today]
    possible = {
        hours.open_status(service.schedules, moment, "America/New_York").text
        for moment in (before, after)
    }
    assert any(text in page.text for text in possible)
    # Who, what it costs, how to apply, what to bring, languages, area.
    assert "Ages 18 and older" in page.text
    assert "Adults living in the county." in page.text
    assert "Free" in page.text and "Spanish" in page.text
    assert "Walk in during open hours." in page.text and "About 15 minutes" in page.text
    assert "Proof of address" in page.text
    assert "Around site" in page.text
    # Freshness.
    assert "Last verified: not verified for over a year (March 4, 2025)" in page.text
    assert re.search(r"Updated: \w+ \d{1,2}, \d{4}", page.text)
    # Not in the network: how a referral reaches it, and no capacity it never gave.
    assert "Referrals by email" in page.text
    assert "Accepting new referrals." not in page.text
    create_org("Westside agency", "agency", directory_organization_id=service.organization_id)
    _, page = _service_page(client, service.id)
    assert "Takes referrals in Wraparound" in page.text
    assert "Accepting new referrals." in page.text


def test_service_page_warns_when_closed_or_full(db, client, create_org):
    service = make_service(
        db,
        status="temporarily closed",
        alert="Closed for repairs until June 1.",
        referral_capacity="waitlist",
    )
    db.session.commit()
    # Capacity is the agency's own word: shown for a network agency only.
    create_org("Closed agency", "agency", directory_organization_id=service.organization_id)

    _, page = _service_page(client, service.id)

    assert "This service is temporarily closed." in page.text
    assert "Closed for repairs until June 1." in page.text
    assert "Waitlist" in page.text and "Taking referrals onto a waitlist." in page.text
    assert "Last verified: not verified yet" in page.text


def test_hours_kept_as_text_are_shown_in_their_own_words_escaped(db, client):
    from directory.models import Schedule

    service = make_service(db, location=False, area=False, term=False)
    service.schedules.clear()
    service.schedules.append(Schedule(description="Mornings <b>by appointment</b>"))
    db.session.commit()

    html, page = _service_page(client, service.id)

    hours = html.split('id="hours-heading"')[1].split("</section>")[0]
    assert '<p class="hours-text">Mornings &lt;b&gt;by appointment&lt;/b&gt;</p>' in hours
    assert "Call for hours" not in hours  # the text says more than that


def test_service_without_hours_or_phone_says_so_instead_of_failing(db, client):
    organization = make_organization(db)
    service = make_service(db, organization=organization, location=False, area=False, term=False)
    service.schedules.clear()
    service.phones.clear()
    service.url = "javascript:alert(1)"
    service.email = None
    db.session.commit()

    html, page = _service_page(client, service.id)

    assert "Call for hours" in page.text
    assert "javascript:" not in html
    assert "No contact details on record." in page.text
    assert not [a for a in page.find_all("a") if a.get("href", "").startswith("tel:")]


def test_unknown_defunct_and_malformed_service_ids_are_a_friendly_404(db, client):
    defunct = make_service(db, status="defunct")
    db.session.commit()

    for path in (f"/services/{uuid.uuid4()}", f"/services/{defunct.id}", "/services/not-an-id"):
        response = client.get(path)
        assert response.status_code == 404, path
        page = assert_accessible_page(response.get_data(as_text=True))
        assert "We couldn't find that page" in page.text
        assert page.find_all("form", role="search")


def test_only_a_signed_in_coordinator_sees_the_refer_button(
    db, app, client, login, dummy_coordinator, dummy_agency_staff
):
    service = make_service(db)
    db.session.commit()

    _, page = _service_page(client, service.id)
    assert "Refer someone" not in page.text

    staff = app.test_client()
    login(staff, dummy_agency_staff)
    _, page = _service_page(staff, service.id)
    assert "Refer someone" not in page.text

    coordinator = app.test_client()
    login(coordinator, dummy_coordinator)
    _, page = _service_page(coordinator, service.id)
    assert "Refer someone" in page.text
    refer = [a["href"] for a in page.find_all("a") if a["href"].startswith("/referrals/new")]
    assert refer == [f"/referrals/new?service_id={service.id}"]
    assert coordinator.get(refer[0]).status_code == 200


# ---------------------------------------------------------------- my list


def _list_page(client, path="/list") -> Page:
    response = client.get(path)
    assert response.status_code == 200
    assert "HX-Request" in response.headers.get("Vary", "")
    return assert_accessible_page(response.get_data(as_text=True))


def test_save_view_and_remove_without_javascript(db, client):
    first = make_service(db, name="Northside Pantry")
    second = make_service(db, name="Eastside Rent Help")
    db.session.commit()

    assert "Nothing saved yet." in _list_page(client).text

    response = client.post(
        "/list/add", data={"service_id": str(first.id), "next": f"/services/{first.id}"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/services/{first.id}"
    client.post("/list/add", data={"service_id": str(second.id), "next": "/list"})

    page = Page(client.get(f"/services/{first.id}").get_data(as_text=True))
    assert "Saved · Remove" in page.text and "My list (2 saved)" in page.text

    page = _list_page(client)
    assert page.text.index("Northside Pantry") < page.text.index("Eastside Rent Help")
    assert "2 services on your list." in page.text
    assert page.find_all("a", href="tel:+13155550100;ext=12")

    response = client.post("/list/remove", data={"service_id": str(first.id), "next": "/list"})
    assert response.status_code == 303 and response.headers["Location"] == "/list"
    page = _list_page(client)
    assert "Northside Pantry" not in page.text and "Eastside Rent Help" in page.text

    client.post("/list/remove", data={"all": "1", "next": "/list"})
    assert "Nothing saved yet." in _list_page(client).text


def test_saving_with_htmx_swaps_the_button_and_the_header_count(db, htmx_client):
    service = make_service(db)
    db.session.commit()

    response = htmx_client.post(
        "/list/add",
        data={"service_id": str(service.id), "next": "/"},
        headers={"HX-Target": f"save-{service.id}"},
    )

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<form id="save-{service.id}"')
    assert "/list/remove" in html and "Saved · Remove" in html
    assert re.search(r'<a id="my-list-link"[^>]*hx-swap-oob="true"', html)
    assert "(1" in html and "<main" not in html

    response = htmx_client.post(
        "/list/remove",
        data={"service_id": str(service.id), "next": "/list"},
        headers={"HX-Target": "my-list"},
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="my-list"')
    assert "Nothing saved yet." in html and "<main" not in html


def test_a_shared_list_opens_on_another_phone_and_can_be_kept(db, app, client):
    first = make_service(db, name="Shelter Intake")
    second = make_service(db, name="Clothing Closet")
    db.session.commit()
    for service in (first, second):
        client.post("/list/add", data={"service_id": str(service.id), "next": "/list"})

    page = _list_page(client)
    share_url = page.find_all("input", id="share-url")[0]["value"]
    assert parse_qs(urlsplit(share_url).query)["ids"] == [f"{first.id},{second.id}"]
    sms = next(a["href"] for a in page.find_all("a") if a.get("href", "").startswith("sms:"))
    mail = next(a["href"] for a in page.find_all("a") if a.get("href", "").startswith("mailto:"))
    assert share_url in unquote(sms) and share_url in unquote(mail)
    assert f"Open this list online: {share_url}" in page.text  # printed with the list

    other_phone = app.test_client()
    shared = urlsplit(share_url)
    page = _list_page(other_phone, f"{shared.path}?{shared.query}")
    assert "A list shared with you" in page.text
    assert "Shelter Intake" in page.text and "Clothing Closet" in page.text
    assert "Nothing saved yet." in _list_page(other_phone).text

    response = other_phone.post(
        "/list/add",
        data={"service_id": [str(first.id), str(second.id)], "next": "/list"},
    )
    assert response.status_code == 303
    page = _list_page(other_phone)
    assert "2 services on your list." in page.text


def test_the_list_prints_without_buttons(db, client):
    service = make_service(db, name="Printable Pantry")
    db.session.commit()
    client.post("/list/add", data={"service_id": str(service.id), "next": "/list"})

    html = client.get("/list").get_data(as_text=True)

    assert 'class="print-only"' in html
    for form in re.findall(r"<form[^>]*>", html):
        assert "no-print" in form
    css = (STATIC / "css" / "app.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert ".no-print" in print_rules and ".print-only { display: block; }" in print_rules


def test_bad_list_input_is_a_message_never_a_500(db, client):
    service = make_service(db)
    db.session.commit()

    response = client.post("/list/add", data={"service_id": "not-a-uuid"})
    assert response.status_code == 400
    assert "Choose a service to save." in response.get_data(as_text=True)
    response = client.post("/list/add", data={"service_id": str(uuid.uuid4())})
    assert response.status_code == 400

    for tampered in ("tampered.value", "", "W10.bad", "x" * 3000):
        client.set_cookie("my_list", tampered)
        assert "Nothing saved yet." in _list_page(client).text
    assert "This shared list is empty" in _list_page(client, "/list?ids=zzz,123").text

    # Never a redirect to another site.
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = client.post("/list/add", data={"service_id": str(service.id), "next": target})
        assert response.headers["Location"] == "/list", target


def test_a_service_that_closes_for_good_drops_off_saved_lists(db, client):
    service = make_service(db, name="Soon Gone")
    kept = make_service(db, name="Still Here")
    db.session.commit()
    for s in (service, kept):
        client.post("/list/add", data={"service_id": str(s.id), "next": "/list"})

    db.session.get(Service, service.id).status = "defunct"
    db.session.commit()

    page = _list_page(client)
    assert "Soon Gone" not in page.text and "Still Here" in page.text


def test_list_forms_carry_a_csrf_token_and_are_refused_without_one(db, make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        service = make_service(db)
        db.session.commit()
        service_id = service.id
    client = app.test_client()

    html = client.get(f"/services/{service_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]

    refused = client.post("/list/add", data={"service_id": str(service_id)})
    assert refused.status_code == 400
    accepted = client.post(
        "/list/add", data={"service_id": str(service_id), "csrf_token": token, "next": "/list"}
    )
    assert accepted.status_code == 303
    assert "1 service on your list." in Page(client.get("/list").get_data(as_text=True)).text


@pytest.mark.parametrize("path", ["/list", "/list?ids="])
def test_empty_list_pages_render_both_shapes(db, client, htmx_client, path):
    full = client.get(path).get_data(as_text=True)
    partial = htmx_client.get(path).get_data(as_text=True)
    assert "<html" in full and "<html" not in partial
    assert partial.lstrip().startswith('<section id="my-list"')


# ---------------------------------------------------------------- search


def _results_region(html: str) -> str:
    return html[html.index('<div id="results"') :]


def test_search_page_is_one_url_full_page_or_htmx_partial(db, client, htmx_client):
    make_service(db, name="Northside Food Pantry")
    db.session.commit()
    url = "/?q=pantry&near=13202"

    full = client.get(url)
    assert full.status_code == 200 and "HX-Request" in full.headers["Vary"]
    page = assert_accessible_page(full.get_data(as_text=True))
    assert "Northside Food Pantry" in page.text
    status = re.search(r'<p id="results-status"[^>]*aria-live="polite"[^>]*>(.*?)</p>', full.text)
    assert status and "1 service found for “pantry” near 13202" in status[1]

    partial = htmx_client.get(url)
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    body = partial.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="results"') and "<html" not in body
    assert "Northside Food Pantry" in body
    oob = re.search(r'<p id="results-status" hx-swap-oob="innerHTML">(.*?)</p>', body, re.S)
    assert oob and "1 service found" in oob[1]

    restore = htmx_client.get(url, headers={"HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_the_search_form_works_without_javascript(db, client, create_org):
    east = make_service(db, name="Eastside Pantry", referral_capacity="waitlist")
    west = make_service(db, name="Westside Pantry", referral_capacity="not_accepting")
    db.session.commit()
    for name, service in (("East agency", east), ("West agency", west)):
        create_org(name, "agency", directory_organization_id=service.organization_id)

    html = client.get("/").get_data(as_text=True)
    page = assert_accessible_page(html)
    form = page.find_all("form", id="search-form")[0]
    assert form["method"] == "get" and form["action"] == "/"
    names = {a.get("name") for t, a in page.elements if t in ("input", "select")}
    assert {"q", "near", "radius_mi"} <= names
    assert page.find_all("button", type="submit")

    # What the browser sends when the form is submitted without htmx.
    html = client.get("/?q=pantry&near=Syracuse%2C+NY&radius_mi=5").get_data(as_text=True)
    page = assert_accessible_page(html)
    results = Page(_results_region(html))
    assert "2 services found for “pantry” near Syracuse, NY" in page.text
    cards = results.find_all("li", class_="card")
    assert len(cards) == 2
    assert [a for a in results.find_all("a") if a.get("href", "").startswith("/services/")]
    assert len(results.find_all("a", href="tel:+13155550100;ext=12")) == 2
    assert "Waitlist" in results.text and "Not accepting referrals" in results.text
    assert results.text.count("Takes referrals in Wraparound") == 2
    assert "Serves your area" in results.text
    distance = results.find_all("span", class_="distance")[0]
    assert distance["title"].endswith(" km")
    assert re.search(r"\d+(\.\d)? mi", results.text)
    assert re.search(r"(Open now · closes|Closed · opens) ", results.text)
    assert len(results.find_all("form", action="/list/add")) == 2
    selected = [a for t, a in page.elements if t == "option" and "selected" in a]
    assert [o["value"] for o in selected] == ["5"]


def test_filters_show_counts_and_every_link_keeps_the_query(db, client):
    for n in range(22):
        service = make_service(db, name=f"Pantry number {n}")
        if n % 2:
            service.fees_description = "$5 per visit"
            service.cost_options[0].amount = 5
    db.session.commit()

    html = client.get("/?q=pantry&near=13202").get_data(as_text=True)
    page = Page(html)
    assert "22 services found" in page.text and "page 1 of 2" in page.text
    free = page.find_all("input", name="free")[0]
    assert free["form"] == "search-form" and "checked" not in free
    label = re.search(r'for="filter-free-true">.*?\((\d+)', html, re.S)
    assert label[1] == "11"
    next_link = next(a["href"] for a in page.find_all("a") if a.get("rel") == "next")
    assert parse_qs(urlsplit(next_link).query) == {
        "q": ["pantry"],
        "near": ["13202"],
        "page": ["2"],
    }

    html = client.get("/?q=pantry&near=13202&free=true&language=es").get_data(as_text=True)
    page = Page(html)
    assert "11 services found" in page.text and "page 1" not in page.text
    assert "checked" in page.find_all("input", name="free")[0]
    assert "checked" in page.find_all("input", name="language", value="es")[0]
    assert "Filters (2 on)" in page.text
    assert page.find_all("details", id="filters")[0].get("open") == ""
    clear = next(a["href"] for a in page.find_all("a", class_="clear-filters"))
    assert parse_qs(urlsplit(clear).query) == {"q": ["pantry"], "near": ["13202"]}
    for mode in page.find_all("a"):
        if mode.get("href", "").endswith("view=map"):
            assert parse_qs(urlsplit(mode["href"]).query)["free"] == ["true"]

    html = client.get("/?q=pantry&near=13202&page=2").get_data(as_text=True)
    page = Page(html)
    assert "page 2 of 2" in page.text
    assert len(page.find_all("li", class_="card")) == 2
    assert page.find_all("ol", class_="cards")[0]["start"] == "21"
    prev = next(a["href"] for a in page.find_all("a") if a.get("rel") == "prev")
    assert parse_qs(urlsplit(prev).query) == {"q": ["pantry"], "near": ["13202"]}

    page = Page(client.get("/?q=pantry&near=13202&page=9").get_data(as_text=True))
    assert "There are only 2 pages of results." in page.text


def test_a_chosen_filter_with_no_results_can_still_be_unticked(db, client):
    make_service(db, name="Only Pantry")
    db.session.commit()

    html = client.get("/?q=pantry&language=Tagalog&wheelchair=true").get_data(as_text=True)
    page = assert_accessible_page(html)

    assert "No services match “pantry”" in page.text
    tagalog = page.find_all("input", name="language", value="Tagalog")[0]
    assert "checked" in tagalog and "Tagalog (0" in page.text
    assert "checked" in page.find_all("input", name="wheelchair")[0]
    assert page.find_all("a", class_="clear-filters")


def test_did_you_mean_offers_the_corrected_words(db, client):
    make_service(db, name="Riverside Pantry", description="Groceries for families.")
    db.session.commit()

    html = client.get("/?q=pantyr").get_data(as_text=True)
    page = Page(html)

    link = re.search(r"Did you mean\s*<a href=\"([^\"]+)\">([^<]+)</a>", html)
    assert link, page.text
    assert link[2] == "pantry"
    assert parse_qs(urlsplit(link[1].replace("&amp;", "&")).query) == {"q": ["pantry"]}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("near=Atlantis%2C+ZZ", "is not a US state"),
        ("near=00000", "is not a US ZIP code we know"),
        ("lat=95&lon=10", "can't be used"),
        ("page=abc", "page must be a whole number"),
        ("radius_mi=-3&near=13202", "radius_mi must be more than 0"),
        ("category=no-such-thing", "There is no category"),
    ],
)
def test_bad_search_input_is_a_friendly_message_in_the_page(
    db, client, htmx_client, query, message
):
    for each in (client, htmx_client):
        response = each.get(f"/?{query}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert message in html.replace("&#39;", "'")
    assert_accessible_page(client.get(f"/?{query}").get_data(as_text=True))


def test_nothing_found_says_what_to_try(db, client):
    make_service(db, name="Faraway Pantry", latitude=40.7128, longitude=-74.006)
    db.session.commit()

    page = assert_accessible_page(client.get("/?q=pantry&near=13202").get_data(as_text=True))

    assert "0 services found" in page.text
    assert "No services match “pantry” near 13202" in page.text
    assert "Search up to 100 miles away" in page.text
    assert "call 211" in page.text and page.find_all("a", href="tel:211")
    assert not page.find_all("details", id="filters")  # nothing to narrow down


def test_map_view_draws_from_the_page_and_loads_nothing_from_elsewhere(db, make_app):
    service = make_service(db, name="Mapped Pantry")
    db.session.commit()

    client = make_app().test_client()
    html = client.get("/?q=pantry&view=map").get_data(as_text=True)
    page = assert_accessible_page(html)
    map_box = page.find_all("div", id="results-map")[0]
    assert map_box["data-tile-url"] == ""
    assert map_box["data-leaflet-js"] == "/static/vendor/leaflet/leaflet.js"
    data = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', html, re.S)
    assert '"name": "Mapped Pantry"' in data[1] and f"/services/{service.id}" in data[1]
    assert "The map needs JavaScript. The list below shows the same places." in page.text
    assert page.find_all("li", class_="card")
    external = [
        a.get("src") or a.get("href")
        for t, a in page.elements
        if t in ("script", "link", "img")
        and (a.get("src") or a.get("href") or "").startswith("http")
    ]
    assert external == []

    tiled = make_app(MAP_TILE_URL="https://tiles.example.org/{z}/{x}/{y}.png")
    html = tiled.test_client().get("/?q=pantry&view=map").get_data(as_text=True)
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in html


# ---------------------------------------------------------------- the look


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_meet_wcag_aa_on_their_backgrounds():
    css = (STATIC / "css" / "app.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", css))
    pairs = [
        ("ink", "paper"), ("muted", "paper"), ("muted", "tint"), ("accent", "paper"),
        ("accent-ink", "accent"), ("accent-ink", "accent-dark"), ("accent", "tint"),
        ("accent-dark", "accent-tint"), ("ok", "ok-tint"), ("ok", "paper"),
        ("warn", "warn-tint"), ("bad", "bad-tint"), ("bad", "paper"), ("ink", "mark"),
    ]  # fmt: skip
    for text, background in pairs:
        ratio = _contrast(colours[text], colours[background])
        assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}"
    # The focus ring (non-text, 3:1): its yellow shows on the blue header, its dark ring on white.
    assert _contrast("#ffbf47", colours["accent"]) >= 3
    assert _contrast("#1b1f24", colours["paper"]) >= 3
    assert "--focus-ring: 0 0 0 2px #1b1f24" in css
