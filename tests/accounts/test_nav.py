"""Main navigation: links by role, only to pages that exist, and sign in / sign out."""

import html as html_lib

from accounts.auth import _nav_entries, register_nav_link


def test_the_public_sees_sign_in(client):
    nav = html_lib.unescape(client.get("/password/forgot").get_data(as_text=True))
    nav = nav.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert 'href="/login"' in nav
    assert "Sign out" not in nav and "My account" not in nav


def test_signed_in_people_see_their_links_and_sign_out(client, login, dummy_agency_admin):
    login(client, dummy_agency_admin)
    html = html_lib.unescape(client.get("/account").get_data(as_text=True))
    nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert '<a href="/account/staff">Staff</a>' in nav
    assert '<a href="/account" aria-current="page">My account</a>' in nav
    assert 'action="/logout"' in nav and "Sign out" in nav
    assert 'href="/login"' not in nav


def test_links_follow_the_role(client, login, dummy_coordinator):
    login(client, dummy_coordinator)
    html = html_lib.unescape(client.get("/account").get_data(as_text=True))
    nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert "/account/staff" not in nav


def test_links_to_pages_that_do_not_exist_are_left_out(client, login, dummy_coordinator):
    register_nav_link("Reports", ("reports.nowhere",), roles=("coordinator",), order=30)
    register_nav_link("Help", "accounts.forgot_password", roles=("coordinator",), order=31)
    try:
        login(client, dummy_coordinator)
        html = html_lib.unescape(client.get("/account").get_data(as_text=True))
        nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
        assert "Reports" not in nav
        assert '<a href="/password/forgot">Help</a>' in nav
    finally:
        _nav_entries[:] = [e for e in _nav_entries if e.label not in {"Reports", "Help"}]
