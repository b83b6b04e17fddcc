"""Global review: plans, reports, the review view, agendas, minutes and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from mesh import mesh_of
from sqlalchemy import func, select

from schema.reviews.plans import default_plan
from schema.reviews.tables import Report

IMPORT = "mutation($t: String!) { importPlan(toml: $t) { plan { id revision } added updated kept removed } }"
CYCLE = 'mutation($k: String!, $o: Date!, $c: Date!) { createReviewCycle(key: $k, name: $k, planId: "survivor-leadership-2023-2033", opensOn: $o, closesOn: $c) { key open } }'
DRAFT = "mutation($input: ReportInput!) { draftReport(input: $input) { id status progress published } }"
PUBLISH = "mutation($id: ID!) { publishReport(id: $id) { published } }"
VIEW = "query($c: String!) { reviewView(cycleKey: $c) { digest coalitions themes { key committed weightedProgress } goals { key weightedProgress } actions { key committed meanProgress progressChange notReported statuses { status count } } agenda { key kind } freshness { coalition stale logPosition } } }"


async def report(node, token, cycle, action, status="in_progress", progress=50, committed=True, publish=True) -> str:
    draft = await node.data(
        DRAFT,
        {
            "input": {
                "cycleKey": cycle,
                "actionKey": action,
                "status": status.upper(),
                "progress": progress,
                "committed": committed,
            }
        },
        token,
    )
    if publish:
        await node.data(PUBLISH, {"id": draft["draftReport"]["id"]}, token)
    return draft["draftReport"]["id"]


@pytest.fixture
async def admin(node):
    admin = await node.join("admin", "admin")
    imported = (await node.data(IMPORT, {"t": default_plan()}, admin["token"]))["importPlan"]
    assert imported["added"] == 4 + 14 + 133
    await node.data(CYCLE, {"k": "2024", "o": "2024-01-01", "c": "2024-12-31"}, admin["token"])  # closed
    await node.data(CYCLE, {"k": "2025", "o": "2025-01-01", "c": "2099-12-31"}, admin["token"])
    await node.data(CYCLE, {"k": "2026", "o": "2026-01-01", "c": "2099-12-31"}, admin["token"])
    return admin


async def test_plan_structure_and_revision(node, admin):
    items = await node.data('{ plans { id items(level: "action") { key title } } }')
    actions = items["plans"][0]["items"]
    assert len(actions) == 133 and actions[0]["key"] == "movement.1.1"
    assert any(a["key"] == "decisions.3.12" for a in actions)
    await report(node, admin["token"], "2026", "decisions.3.12")
    revised = default_plan().replace('    "Global gatherings to advance the shared vision",\n', "")
    revision = (await node.data(IMPORT, {"t": revised}, admin["token"]))["importPlan"]
    assert revision["plan"]["revision"] == 2 and revision["removed"] == 1
    flagged = await node.data('{ plans { items(level: "action", includeRemoved: true) { key removed } } }')
    assert {"key": "movement.1.14", "removed": True} in flagged["plans"][0]["items"]
    async with node.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Report)) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('id = "survivor', "Line"),
        ('[[themes]]\nkey = "movement"', "Line 13"),
        ('  key = "movement.2"', "Line 37"),
    ],
)
async def test_a_malformed_plan_is_refused_with_the_line(node, admin, change, expected):
    broken = {
        'id = "survivor': default_plan().replace('id = "survivor-leadership-2023-2033"', 'id = "survivor-leadership'),
        '[[themes]]\nkey = "movement"': default_plan().replace(
            '[[themes]]\nkey = "movement"', '[[themes]]\nkey = "Bad Key!"'
        ),
        '  key = "movement.2"': default_plan().replace('  key = "movement.2"', '  key = "elsewhere.2"'),
    }[change]
    error = await node.error(IMPORT, {"t": broken}, admin["token"])
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "plan"}
    assert expected in error["message"] and "Nothing was imported" in error["message"]


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"actionKey": "decisions.9.99"}, "BAD_USER_INPUT", "actionKey"),
        ({"progress": 101}, "BAD_USER_INPUT", "progress"),
        ({"progress": -1}, "BAD_USER_INPUT", "progress"),
        ({"cycleKey": "2024"}, "CONFLICT", None),
        ({"cycleKey": "1999"}, "NOT_FOUND", "cycleKey"),
    ],
)
async def test_bad_reports_are_refused(node, admin, values, code, field):
    payload = {"cycleKey": "2026", "actionKey": "decisions.3.12", "progress": 10, **values}
    error = await node.error(DRAFT, {"input": payload}, admin["token"])
    assert error["extensions"]["code"] == code and error["extensions"].get("field") == field
    async with node.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Report)) == 0


async def test_view_agenda_minutes_and_exports(node, admin):
    organiser = await node.join("organiser", "organiser")
    draft_only = await report(node, organiser["token"], "2026", "knowledge.1.1", publish=False)
    denied = await node.error(PUBLISH, {"id": draft_only}, organiser["token"])
    assert denied["extensions"]["code"] == "FORBIDDEN"
    await report(node, admin["token"], "2025", "decisions.3.12", progress=20)
    await report(node, admin["token"], "2026", "decisions.3.12", progress=60)
    await report(node, admin["token"], "2026", "movement.1.14", status="blocked", progress=10)
    view = (await node.data(VIEW, {"c": "2026"}))["reviewView"]
    actions = {a["key"]: a for a in view["actions"]}
    assert actions["decisions.3.12"]["meanProgress"] == "60.0" and actions["decisions.3.12"]["progressChange"] == "40.0"
    assert actions["knowledge.1.1"]["committed"] == 0  # drafts do not count
    assert view["agenda"][0] == {"key": "movement.1.14", "kind": "blocked_action"}
    goals = {g["key"]: g["weightedProgress"] for g in view["goals"]}
    assert goals["decisions.3"] == "60.0" and goals["knowledge.1"] is None
    meeting = await node.data(
        'mutation { createReviewMeeting(cycleKey: "2026", title: "Annual review", start: "2027-01-20T14:00:00", end: "2027-01-20T17:00:00", timezone: "Africa/Nairobi") { id eventId agenda { key } } }',
        token=admin["token"],
    )
    meeting = meeting["createReviewMeeting"]
    assert meeting["agenda"][0]["key"] == "movement.1.14"
    event = await node.data("query($id: ID!) { event(id: $id) { kind title } }", {"id": meeting["eventId"]})
    assert event["event"] == {"kind": "REVIEW_MEETING", "title": "Annual review"}
    assert "Annual review" in (await node.client.get("/calendars/kinds/review_meeting.ics")).text
    minutes = await node.data(
        'mutation($m: ID!) { recordMinutes(meetingId: $m, minutes: "Met online.", decisions: [{item: "movement.1.14", text: "Pair the blocked coalition with a mentor."}]) { minutes decisions } }',
        {"m": meeting["id"]},
        organiser["token"],
    )
    assert minutes["recordMinutes"]["decisions"] == ["movement.1.14: Pair the blocked coalition with a mentor."]
    off_agenda = await node.error(
        'mutation($m: ID!) { recordMinutes(meetingId: $m, minutes: "x", decisions: [{item: "nope", text: "t"}]) { id } }',
        {"m": meeting["id"]},
        organiser["token"],
    )
    assert off_agenda["extensions"]["code"] == "BAD_USER_INPUT"

    exported = (await node.client.get("/reviews/2026/view.json")).text
    assert json.loads(exported)["cycle"] == "2026"
    assert exported == (await node.client.get("/reviews/2026/view.json")).text
    rows = list(csv.DictReader(io.StringIO((await node.client.get("/reviews/2026/view.csv")).text)))
    assert len(rows) == 133 and next(r for r in rows if r["action"] == "decisions.3.12")["mean_progress"] == "60.0"
    agenda = (await node.client.get("/reviews/2026/agenda.txt")).text
    assert agenda.splitlines()[2].startswith("1. [movement.1.14]")
    assert (await node.client.get("/reviews/1999/view.json")).status_code == 404


async def test_three_nodes_compute_the_same_view_byte_for_byte(backend, request, tmp_path):
    async with mesh_of(["node-a", "node-b", "node-c"], backend, request, tmp_path) as mesh:
        for x, y in (("node-a", "node-b"), ("node-b", "node-c"), ("node-a", "node-c")):
            await mesh.peer(x, y)
        for name, node in mesh.nodes.items():
            token = mesh.admins[name]["token"]
            await node.data(IMPORT, {"t": default_plan()}, token)
            await node.data(CYCLE, {"k": "2026", "o": "2026-01-01", "c": "2099-12-31"}, token)
        await report(mesh.nodes["node-a"], mesh.admins["node-a"]["token"], "2026", "decisions.3.12", progress=30)
        await report(
            mesh.nodes["node-b"],
            mesh.admins["node-b"]["token"],
            "2026",
            "decisions.3.12",
            status="blocked",
            progress=10,
        )
        mesh.offline.add("node-c")
        await report(mesh.nodes["node-c"], mesh.admins["node-c"]["token"], "2026", "services.1.1", progress=90)
        await mesh.sync()
        stale = (await mesh.nodes["node-a"].data(VIEW, {"c": "2026"}))["reviewView"]
        assert "node-c" not in stale["coalitions"]
        mesh.offline.discard("node-c")
        await mesh.sync()
        views = [(await node.client.get("/reviews/2026/view.json")).content for node in mesh.nodes.values()]
        assert views[0] == views[1] == views[2]
        digests = {(await node.data(VIEW, {"c": "2026"}))["reviewView"]["digest"] for node in mesh.nodes.values()}
        assert len(digests) == 1
        view = (await mesh.nodes["node-b"].data(VIEW, {"c": "2026"}))["reviewView"]
        assert view["coalitions"] == ["node-a", "node-b", "node-c"]
        fresh = {f["coalition"]: f for f in view["freshness"]}
        assert not fresh["node-c"]["stale"] and fresh["node-c"]["logPosition"] > 0
        action = next(a for a in view["actions"] if a["key"] == "decisions.3.12")
        assert action["committed"] == 2 and action["meanProgress"] == "20.0" and action["notReported"] == ["node-c"]
        denied = await mesh.nodes["node-b"].error(
            PUBLISH,
            {"id": (await mesh.nodes["node-b"].data('{ reports(coalition: "node-a") { id } }'))["reports"][0]["id"]},
            mesh.admins["node-b"]["token"],
        )
        assert denied["extensions"]["code"] == "FORBIDDEN"
