"""A 211 re-import that drops a service someone was referred to: the service is retired (it
leaves search), never deleted, and the referral and its page stay as they were."""

import shutil
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from directory.hsds.importing.values import IdMapper
from directory.models import Service
from referrals import services
from referrals.models import Referral

EXPORT = Path(__file__).resolve().parents[1] / "data" / "import" / "export_211"
ids = IdMapper("county-211-export")


def _found(text: str) -> list[str]:
    from directory import search
    from directory.search import SearchQuery

    return [hit.service.name for hit in search.search(SearchQuery(text=text)).hits]


def test_a_retired_service_leaves_search_and_keeps_its_referrals(
    db, runner, network, create_org, create_member, client, login, tmp_path
):
    package = tmp_path / "county"
    shutil.copytree(EXPORT, package)
    assert runner.invoke(args=["directory", "import-hsds", str(package)]).exit_code == 0
    rent = db.session.get(Service, ids("service", "1002"))
    create_org("Harbor Community Action", "agency", directory_organization_id=rent.organization_id)
    member = create_member()
    referral = services.send_referral(network.coordinator_a, member, rent, need="Back rent")
    db.session.commit()
    referral_id, status = referral.id, referral.status
    coordinator = SimpleNamespace(email=network.coordinator_a.email)  # read before the re-import
    assert _found("back rent") == ["Rent Assistance"]

    services_csv = package / "data" / "services.csv"
    lines = services_csv.read_text(encoding="utf-8").splitlines()
    services_csv.write_text("\n".join(x for x in lines if not x.startswith("1002,")) + "\n")
    db.session.remove()
    result = runner.invoke(args=["directory", "import-hsds", str(package)])

    assert result.exit_code == 0, result.output
    assert "Retired (no longer in the export; now inactive): 1" in result.stdout
    db.session.expire_all()
    rent = db.session.get(Service, ids("service", "1002"))
    assert rent.status == "inactive"
    assert _found("back rent") == []
    kept = db.session.scalars(select(Referral).where(Referral.id == referral_id)).one()
    assert (kept.service_id, kept.status) == (rent.id, status)
    login(client, coordinator)
    page = client.get(f"/referrals/{referral_id}")
    assert page.status_code == 200 and "Rent Assistance" in page.get_data(as_text=True)
    listing = client.get(f"/services/{rent.id}").get_data(as_text=True)
    assert "This service is not being offered right now." in listing
