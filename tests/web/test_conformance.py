"""Issue 10, item 14: 405s say what is allowed, the HSDS OpenAPI documents its errors and the
lowest page, and a denied read of another organization's record is in the audit log."""

from sqlalchemy import select

from referrals.models import AuditLog


def test_a_405_from_the_api_carries_allow(client):
    response = client.delete("/hsds/services")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_a_405_page_carries_allow(client):
    response = client.put("/login")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_the_hsds_openapi_lists_errors_and_the_lowest_page(client):
    document = client.get("/hsds/openapi.json").get_json()
    shared = document["components"]["parameters"]
    pages_seen = 0
    for path, item in document["paths"].items():
        if path == "/":
            continue
        operation = item["get"]
        responses = operation["responses"]
        assert "400" in responses, path
        if "{id}" in path:
            assert "404" in responses, path
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                parameter = shared[parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["name"] == "page":
                assert parameter["schema"]["minimum"] == 1, path
                pages_seen += 1
    assert pages_seen == 5


def _denied(db, user):
    db.session.expire_all()
    return db.session.scalars(
        select(AuditLog).where(AuditLog.actor_id == user.id, AuditLog.action == "denied")
    ).all()


def test_a_denied_read_of_another_organizations_referral_is_audited(api, network, referral, db):
    response = api.get(f"/api/v1/referrals/{referral.id}", network.staff_b)
    assert response.status_code == 404
    (row,) = _denied(db, network.staff_b)
    assert row.object_type == "referral"
    assert row.object_id == referral.id
    assert row.detail["via"] == "api"


def test_a_denied_read_of_another_caseloads_member_is_audited(api, signed_in, network, member, db):
    assert api.get(f"/api/v1/members/{member.id}", network.coordinator_b).status_code == 404
    assert signed_in(network.coordinator_b).get(f"/members/{member.id}").status_code == 404
    rows = _denied(db, network.coordinator_b)
    assert [(r.object_type, r.object_id) for r in rows] == [("member", member.id)] * 2


def test_a_missing_record_is_not_a_denial(api, network, db):
    import uuid

    assert api.get(f"/api/v1/referrals/{uuid.uuid4()}", network.staff_b).status_code == 404
    assert _denied(db, network.staff_b) == []
