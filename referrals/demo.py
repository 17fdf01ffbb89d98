"""Six months of demo referral work, so dashboards and inboxes show real work on a fresh install.

`seed_demo_referrals()` gives the demo Health Home's coordinators a caseload and about 150
referrals sent over the past six months to the demo agencies (their inboxes) and to listed
services of agencies that have not joined (email links), in every state: waiting, accepted,
declined with each reason, cancelled, forwarded, completed with each outcome, overdue, outcome
overdue, re-sent to the next best service by the coordinator and escalated by the sweep.

Everything goes through the real service functions with a back-dated `now`, so events, deadlines,
notifications and audit rows agree with each other. The plan comes from a seeded
`random.Random` and is the same on every run; members are found by their demo email address, so
a member already there (with their referrals) is skipped: running it twice adds nothing. The
emails those steps queued are marked sent: they belong to the story's past, and nobody should
receive six months of demo mail.
"""

import logging
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from accounts.models import NetworkOrganization, OrgKind, Role, User
from accounts.outbox import OutboxEmail
from directory.demo import DEMO_AGENCY_IDS, DEMO_DATASET
from directory.models import ReferralCapacity, Service
from extensions import db, utcnow
from referrals import links, next_best, notifications, services
from referrals.actors import LinkActor
from referrals.models import Delivery, Member, Referral
from referrals.states import CHOSEN_CANCEL_REASONS, REASONS_NEEDING_TEXT, DeclineReason, Outcome

log = logging.getLogger(__name__)

DEMO_REFERRALS = 150  # about this many first referrals; forwards and re-sends add a few more
DEMO_MEMBERS = 60
DEMO_DAYS = 182  # spread over the past six months
MEMBER_EMAIL = "demo.member{:03d}@example.net"
SCOPE = ["first_name", "last_name", "phone", "email", "preferred_language", "postal_code"]

FIRST = (
    "Maria Jamal Aisha Tomas Rosa Ngoc Amina Dmytro Keisha Omar Lena Bishnu Fatuma Carlos "
    "Hannah Samir Yolanda Paw Grace Ahmad Olena Marcus Zainab Luis Tamika Ibrahim Sofia Hasan"
).split()
LAST = (
    "Lopez Carter Hassan Reyes Vega Nguyen Warsame Kovalenko Brown Ali Berg Gurung Mohamed "
    "Santos Miller Haddad Ortiz Htoo Johnson Karimi Shevchenko Williams Abdi Rivera Jackson"
).split()
LANGUAGES = ["English"] * 6 + ["Spanish", "Arabic", "Nepali", "Somali", "Ukrainian", "Karen"]
ZIPS = ["13202", "13203", "13204", "13205", "13206", "13207", "13208", "13210", "13224"]
NEEDS = {
    "food_bank": ["Groceries for a family of four", "Food until SNAP starts", "Baby formula"],
    "shelter": ["A bed tonight", "Shelter after an eviction", "Safe place to stay this week"],
    "medicaid_transportation": ["Rides to dialysis", "Ride to a specialist appointment"],
    "behavioral_health": ["Counseling for depression", "Substance use assessment"],
    "legal_aid": ["Eviction notice, court date next week", "Help appealing a benefits denial"],
}
NOTE_TEXT = {
    DeclineReason.other: "Our program changed its intake rules this month.",
    Outcome.not_provided: "The member could not come to the appointments we offered.",
    "cancel": "The member asked us to stop.",
}
STORIES = (
    ["completed"] * 50
    + ["declined"] * 16
    + ["accepted"] * 10
    + ["waiting"] * 8
    + ["overdue"] * 8
    + ["outcome_overdue"] * 5
    + ["cancelled"] * 8
    + ["forwarded"] * 10
    + ["resent"] * 10
    + ["escalated"] * 8
)


@dataclass
class DemoReferrals:
    """What one run added: members and referrals by final status, and what was skipped."""

    members: int = 0
    skipped_members: int = 0
    by_status: Counter = field(default_factory=Counter)

    @property
    def referrals(self) -> int:
        return sum(self.by_status.values())

    def __str__(self) -> str:
        if not self.members:
            return f"Demo referrals: none added ({self.skipped_members} demo members there)"
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.by_status.items()))
        return f"Demo referrals: {self.members} members, {self.referrals} referrals ({statuses})"


@dataclass
class _Cast:
    """The people and services the story is played by."""

    coordinators: list[User]
    staff: dict[uuid.UUID, User]  # network agency id -> its intake worker
    network: dict[str, list[Service]]  # agency role -> its services
    emailed: list[Service]  # listed services of agencies that have not joined


def seed_demo_referrals(now: datetime | None = None) -> DemoReferrals:
    """Seed the demo caseload and its referrals (once); flushes, the caller commits.

    Needs the demo directory and the demo accounts; without them it adds nothing."""
    now = (now or utcnow()).replace(microsecond=0)
    summary = DemoReferrals()
    cast = _cast()
    if cast is None:
        log.warning("demo referrals skipped: the demo directory or accounts are missing")
        return summary
    rng = random.Random("wraparound-demo-referrals")  # noqa: S311  (made-up demo content)
    stories = _plan(rng)
    for number in range(DEMO_MEMBERS):
        member_rng = random.Random(f"wraparound-demo-member:{number}")  # noqa: S311
        mine = stories[number::DEMO_MEMBERS]
        email = MEMBER_EMAIL.format(number)
        if db.session.scalar(select(Member.id).where(Member.email == email)) is not None:
            summary.skipped_members += 1
            continue
        story_times = [_sent_at(member_rng, story, now) for story in mine]
        coordinator = cast.coordinators[number % len(cast.coordinators)]
        joined = min(story_times, default=now) - timedelta(days=member_rng.randint(1, 20))
        member = _member(coordinator, number, email, member_rng, joined)
        summary.members += 1
        used: set[uuid.UUID] = set()
        for story, sent_at in sorted(zip(mine, story_times, strict=True), key=lambda s: s[1]):
            for referral in _play(story, member_rng, cast, coordinator, member, used, sent_at, now):
                summary.by_status[referral.status] += 1
    services.sweep_overdue(now)
    services.sweep_outcome_overdue(now)
    _mark_demo_mail_sent(now)
    db.session.flush()
    log.info("%s", summary)
    return summary


def _cast() -> _Cast | None:
    coordinators = list(
        db.session.scalars(
            select(User)
            .join(NetworkOrganization, NetworkOrganization.id == User.organization_id)
            .where(User.role == Role.coordinator, User.email.like("%@cnyhh.example.org"))
            .order_by(User.email)
        )
    )
    network: dict[str, list[Service]] = {}
    staff: dict[uuid.UUID, User] = {}
    for role, directory_id in DEMO_AGENCY_IDS.items():
        agency = db.session.scalar(
            select(NetworkOrganization).where(
                NetworkOrganization.directory_organization_id == directory_id,
                NetworkOrganization.kind == OrgKind.agency,
            )
        )
        worker = agency and db.session.scalar(
            select(User)
            .where(User.organization_id == agency.id, User.role == Role.agency_staff)
            .order_by(User.email)
        )
        offered = _referrable(Service.organization_id == directory_id)
        if worker is None or not offered:
            continue
        staff[agency.id] = worker
        network[role] = offered
    outside = _referrable(
        Service.organization_id.not_in(list(DEMO_AGENCY_IDS.values())),
        Service.dataset == DEMO_DATASET,
    )
    emailed = [s for s in outside if services.referral_route(s).delivery == Delivery.email]
    if not coordinators or not network or len(emailed) < 4:
        return None
    return _Cast(coordinators, staff, network, emailed[::7][:24])


def _referrable(*conditions) -> list[Service]:
    found = db.session.scalars(select(Service).where(*conditions).order_by(Service.id))
    return [
        s
        for s in found
        if s.takes_referrals
        and s.referral_capacity != ReferralCapacity.not_accepting
        and services.referral_route(s) is not None
    ]


def _plan(rng: random.Random) -> list[str]:
    """The stories, shuffled the same way every time; each decline reason, cancel reason and
    outcome comes up at least once, and a third of them go by email link."""
    stories = list(STORIES)
    rng.shuffle(stories)
    choices = {"declined": DeclineReason, "completed": Outcome, "cancelled": CHOSEN_CANCEL_REASONS}

    def codes_of(story: str) -> list[str]:
        return [str(code) for code in choices[story]]

    coded = {story: [f"{story}:{code}" for code in codes_of(story)] for story in choices}
    planned = []
    for story in stories:
        if story in coded:
            codes = coded[story]
            story = codes.pop(0) if codes else f"{story}:{rng.choice(codes_of(story))}"
        via = "email" if rng.random() < 0.33 else "network"
        planned.append(f"{story}@{via}")
    return planned


def _sent_at(rng: random.Random, story: str, now: datetime) -> datetime:
    """When the story's first referral went out: recent for what still waits, else any time."""
    kind = story.split(":")[0].split("@")[0]
    hours = {
        "waiting": (1, 20),
        "accepted": (30, 24 * 8),
        "overdue": (24 * 6, 24 * 25),
        "outcome_overdue": (24 * 25, 24 * 50),
        "escalated": (24 * 8, 24 * 120),
    }.get(kind, (24 * 6, 24 * DEMO_DAYS))
    return now - timedelta(hours=rng.randint(*hours), minutes=rng.randint(0, 59))


def _member(coordinator: User, number: int, email: str, rng, joined: datetime) -> Member:
    first, last = FIRST[number % len(FIRST)], LAST[(number * 7) % len(LAST)]
    member = services.create_member(
        coordinator,
        now=joined,
        first_name=first,
        last_name=last,
        email=email,
        phone=f"(315) 555-{100 + number % 100:04d}",
        birth_date=date(1950 + rng.randint(0, 50), rng.randint(1, 12), rng.randint(1, 28)),
        preferred_language=rng.choice(LANGUAGES),
        address=f"{rng.randint(10, 999)} {rng.choice(['Elm', 'Salina', 'Park', 'Grant'])} St",
        postal_code=rng.choice(ZIPS),
    )
    services.record_consent(
        coordinator,
        member,
        given_by=f"{first} {last}",
        method=rng.choice(["written", "verbal", "electronic"]),
        scope=SCOPE,
        expires_on=(joined + timedelta(days=365 * 2)).date(),
        now=joined,
    )
    return member


def _play(story, rng, cast, coordinator, member, used, sent_at, now) -> list[Referral]:
    """Send one referral and act it out up to the story's end; returns every referral made."""
    kind, _, rest = story.partition(":")
    code, _, via = rest.rpartition("@") if rest else ("", "", kind.partition("@")[2])
    kind = kind.partition("@")[0]
    service, need = _pick(rng, cast, used, via)
    auto = kind == "escalated"
    urgency = rng.choice(["routine"] * 5 + ["urgent"] * 2 + ["emergency"])
    if kind == "waiting":
        urgency = "routine"  # still inside its window now
    referral = services.send_referral(
        coordinator, member, service, need=need, urgency=urgency, auto_escalate=auto, now=sent_at
    )
    made = [referral]
    later = _later(rng, sent_at, now)
    if kind == "waiting" or kind == "overdue":
        return made
    if kind == "escalated":
        moment = max(referral.due_at, sent_at) + timedelta(minutes=rng.randint(5, 90))
        made.append(_escalate(referral, _pick(rng, cast, used, "network")[0], moment))
        _finish(made[-1], rng, cast, "completed", "service_provided", moment, now)
        return made
    if kind == "cancelled":
        if code != "sent_in_error":
            _agency_act(referral, cast, services.accept, later)
            later = _later(rng, later, now)
        text = NOTE_TEXT["cancel"] if code == "other" else None
        services.cancel(referral, coordinator, reason=code, text=text, now=later)
        return made
    if kind in ("declined", "resent"):
        reason = code or rng.choice(list(DeclineReason))
        text = NOTE_TEXT[DeclineReason.other] if reason == DeclineReason.other else None
        _agency_act(referral, cast, services.decline, later, reason=reason, text=text)
        if kind == "resent":
            moment = _later(rng, later, now)
            target = _pick(rng, cast, used, "network")[0]
            made.append(next_best.resend(referral, coordinator, target, now=moment))
            _finish(made[-1], rng, cast, "completed", None, moment, now)
        return made
    if kind == "forwarded":
        target = _pick(rng, cast, used, "network")[0]
        forwarded = _agency_act(referral, cast, services.forward, later, service=target)
        made.append(forwarded)
        _finish(forwarded, rng, cast, "completed", None, later, now)
        return made
    _finish(referral, rng, cast, kind, code or None, sent_at, now)
    return made


def _finish(referral, rng, cast, kind, outcome, since, now) -> None:
    """Accept, then (for "completed") record the outcome, each a little later than the last."""
    accepted_at = _later(rng, since, now)
    if kind == "outcome_overdue":
        accepted_at = since + timedelta(hours=rng.randint(2, 30))
    _agency_act(referral, cast, services.accept, accepted_at)
    if rng.random() < 0.4:
        _agency_act(
            referral,
            cast,
            services.post_message,
            accepted_at + timedelta(minutes=20),
            body="We called and booked an intake appointment.",
        )
    if kind != "completed":
        return
    outcome = outcome or rng.choice(["service_provided"] * 4 + list(Outcome))
    text = NOTE_TEXT[Outcome.not_provided] if outcome in REASONS_NEEDING_TEXT else None
    done_at = _later(rng, accepted_at, now, days=(1, 21))
    _agency_act(referral, cast, services.complete, done_at, outcome=outcome, text=text)


def _agency_act(referral: Referral, cast: _Cast, step, now: datetime, **fields):
    """The receiving agency acts: its intake worker, or the holder of the emailed link."""
    if referral.delivery == Delivery.email:
        link = links.current_link(referral)
        actor = LinkActor(link_id=link.id, referral_id=referral.id, sent_to=link.sent_to)
    else:
        actor = cast.staff[referral.receiving_org_id]
    if step is services.post_message:
        return step(referral, actor, now=now, **fields)
    if step is services.forward:
        return step(referral, actor, fields.pop("service"), now=now, **fields)
    return step(referral, actor, now=now, **fields)


def _escalate(referral: Referral, service: Service, moment: datetime) -> Referral:
    """What the sweep does to an unanswered referral sent with "re-send automatically", to a
    chosen service (the demo's search index may not be built yet when this runs)."""
    claimed = next_best._claim_escalation(referral.id, moment)
    new = next_best._send_linked(claimed, service, None, moment, automatic=True)
    notifications.referral_escalated(claimed, new, moment)
    return new


def _pick(rng, cast: _Cast, used: set[uuid.UUID], via: str) -> tuple[Service, str]:
    """A service this member has not been referred to, and a need that fits it."""
    if via == "email":
        pool, role = cast.emailed, None
    else:
        role = rng.choice(sorted(cast.network))
        pool = cast.network[role]
    fresh = [s for s in pool if s.id not in used] or [
        s for offered in cast.network.values() for s in offered if s.id not in used
    ]
    service = rng.choice(fresh)
    used.add(service.id)
    need = rng.choice(NEEDS[role]) if role in NEEDS else f"Help from {service.name}"
    return service, need[:200]


def _later(rng, since: datetime, now: datetime, days=(0, 3)) -> datetime:
    """A moment after `since` (hours to days), never in the future."""
    step = timedelta(days=rng.randint(*days), hours=rng.randint(1, 20), minutes=rng.randint(0, 59))
    latest = now - timedelta(minutes=rng.randint(5, 60))
    return max(since + timedelta(minutes=1), min(since + step, latest))


def _mark_demo_mail_sent(now: datetime) -> None:
    demo = select(Referral.id).join(Member).where(Member.email.like("demo.member%@example.net"))
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.referral_id.in_(demo), OutboxEmail.sent_at.is_(None))
        .values(sent_at=OutboxEmail.created_at)
        .execution_options(synchronize_session=False)
    )
