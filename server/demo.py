"""Demo data: a small coalition to explore, created through the same rules as real use."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from schema.councils import service as councils
from server.accounts import service as accounts
from server.accounts.tables import Member, Role
from server.db import Database, utcnow
from server.settings import Settings

DEMO_MEMBERS = (("amani", Role.ADMIN), ("tumaini", Role.ORGANISER), ("jade", Role.MEMBER), ("rosa", Role.MEMBER))


@dataclass
class DemoLogin:
    handle: str
    password: str
    role: Role


async def load_demo(db: Database, settings: Settings) -> list[DemoLogin] | None:
    """Create demo members and councils; ``None`` when the demo was loaded before."""
    async with db.read() as session:
        if await session.scalar(select(Member.id).where(Member.handle_key == DEMO_MEMBERS[0][0])):
            return None
    logins: list[DemoLogin] = []
    member_ids: dict[str, str] = {}
    admin_token = ""
    for handle, role in DEMO_MEMBERS:
        password = secrets.token_urlsafe(12)
        _, code = await accounts.create_invitation(db, settings, None, role, "demo", by_operator=True)
        member, token = await accounts.accept_invitation(db, settings, code, handle, password)
        member_ids[handle] = member.id
        logins.append(DemoLogin(handle, password, role))
        if role == Role.ADMIN:
            admin_token = token
    admin = await accounts.authenticate(db, admin_token)
    leadership = await councils.create_council(
        db,
        settings,
        admin,
        name="Survivor Leadership Council",
        description="Survivors who set the coalition's priorities and speak for it.",
        mandate="Sets the coalition's annual priorities and reviews the Action Plan.",
        region=settings.region,
    )
    await councils.set_council_translation(
        db,
        admin,
        leadership.id,
        "sw" if settings.default_language != "sw" else "en",
        name="Baraza la Uongozi la Manusura",
    )
    safety = await councils.create_council(
        db,
        settings,
        admin,
        name="Safety Working Group",
        description="Safety planning for members.",
        visibility="members",
    )
    today = utcnow().date()
    await councils.add_seat(db, admin, leadership.id, member_ids["amani"], "chair", term_start=today)
    await councils.add_seat(db, admin, leadership.id, member_ids["jade"], "secretary", term_start=today)
    await councils.add_seat(
        db,
        admin,
        leadership.id,
        member_ids["rosa"],
        "member",
        term_start=today - timedelta(days=400),
        term_end=today - timedelta(days=35),
    )
    await councils.add_seat(db, admin, safety.id, member_ids["tumaini"], "custom", title="Coordinator")
    from schema.reviews import plans
    from schema.reviews import service as reviews

    plan, _ = await plans.import_plan(db, admin, plans.default_plan())
    cycle = await reviews.create_cycle(
        db,
        admin,
        str(today.year),
        f"{today.year} annual review",
        plan.id,
        date(today.year, 1, 1),
        date(today.year, 12, 31),
    )
    for action, status, progress in (("decisions.3.12", "in_progress", 40), ("movement.1.14", "blocked", 10)):
        report = await reviews.draft_report(
            db,
            settings,
            admin,
            cycle_key=cycle.key,
            action_key=action,
            committed=True,
            status=status,
            progress=progress,
        )
        await reviews.publish_report(db, admin, report.id)
    await councils.record_decision(
        db,
        settings,
        admin,
        leadership.id,
        decided_on=date(today.year, 1, 15),
        title="Adopt the 2023-2033 Action Plan as our reporting frame",
        outcome="adopted",
        votes_for=7,
        votes_against=0,
        votes_abstain=1,
    )
    return logins
