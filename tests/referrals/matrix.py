"""Authorization matrices: every API endpoint and every page, tried as each kind of user.

The roles are people of the `network` fixture; coordination org A and agency A own the records.
"""

ROLES = [
    "coordinator_a",
    "coordinator_b",
    "staff_a",
    "staff_b",
    "agency_admin_a",
    "admin",
    "anonymous",
]


def by_role(*codes: int) -> dict[str, int]:
    """The expected status codes, in the order of ROLES."""
    return dict(zip(ROLES, codes, strict=True))


def statuses_by_role(signed_in, people: dict, method: str, url: str, form=None, roles=None):
    """The status each role (of ROLES by default) gets for the request (`people`: role ->
    user, None for anonymous, who must be sent to sign in)."""
    got = {}
    for role in roles or ROLES:
        client = signed_in(people[role])
        response = client.get(url) if method == "GET" else client.post(url, data=form)
        got[role] = response.status_code
        if role == "anonymous":
            assert response.headers["Location"].startswith("/login?next=")
    return got


def fill_in(template, values: dict):
    """A path or a body template with the records' ids put in ("{member}" → its id)."""
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, dict):
        return {key: fill_in(value, values) for key, value in template.items()}
    return template
