"""Federation between nodes: convergence, catch-up, relays, and refusing what is forged,
replayed or blocked. Nodes run in one process and talk over httpx.ASGITransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from mesh import mesh_of
from sqlalchemy import select, update

from federation.envelope import sign
from federation.httpsig import sign_request
from federation.tables import LogEntry, Peer

SOON = (datetime.now(UTC) + timedelta(days=30)).isoformat()
EVENT = 'mutation($t: String!) { createEvent(input: {title: $t, start: "2027-02-01T10:00:00", end: "2027-02-01T11:00:00", timezone: "Africa/Nairobi"}) { id uid } }'
LIST = '{ events(from: "2027-01-01T00:00:00Z", to: "2027-12-31T00:00:00Z") { nodes { event { uid title } } } }'


@pytest.fixture
async def mesh(backend, request, tmp_path):
    async with mesh_of(["node-a", "node-b", "node-c"], backend, request, tmp_path) as built:
        yield built


async def organiser(mesh, name: str) -> str:
    return mesh.admins[name]["token"]


async def titles(node) -> list[str]:
    return sorted(o["event"]["title"] for o in (await node.data(LIST))["events"]["nodes"])


async def test_well_known_document(mesh):
    document = (await mesh.nodes["node-a"].client.get("/.well-known/coalition-node")).json()
    assert document["node_id"] == "node-a" and document["base_url"] == "https://node-a.test"
    assert document["endpoints"]["inbox"] == "https://node-a.test/federation/inbox"
    (key,) = document["keys"]
    assert key["valid_until"] is None and len(key["public_key"]) == 44


async def test_three_nodes_converge_with_identical_uids(mesh):
    a, b, c = mesh.nodes["node-a"], mesh.nodes["node-b"], mesh.nodes["node-c"]
    for x, y in (("node-a", "node-b"), ("node-b", "node-c"), ("node-a", "node-c")):
        await mesh.peer(x, y)
    made_a = (await a.data(EVENT, {"t": "Nairobi town hall"}, await organiser(mesh, "node-a")))["createEvent"]
    made_b = (await b.data(EVENT, {"t": "Lima circle"}, await organiser(mesh, "node-b")))["createEvent"]
    await a.data(
        'mutation { createCouncil(input: {name: "Regional council"}) { id } }', token=await organiser(mesh, "node-a")
    )
    await mesh.sync()
    for node in (a, b, c):
        assert await titles(node) == ["Lima circle", "Nairobi town hall"]
        uids = {o["event"]["title"]: o["event"]["uid"] for o in (await node.data(LIST))["events"]["nodes"]}
        assert uids == {"Nairobi town hall": made_a["uid"], "Lima circle": made_b["uid"]}
    scoped = (
        '{ events(from: "2027-01-01T00:00:00Z", to: "2027-12-31T00:00:00Z", scope: %s) { nodes { event { origin } } } }'
    )
    assert sorted(o["event"]["origin"] for o in (await c.data(scoped % "REMOTE"))["events"]["nodes"]) == [
        "node-a",
        "node-b",
    ]
    assert (await c.data(scoped % "LOCAL"))["events"]["nodes"] == []
    assert [o["event"]["origin"] for o in (await a.data(scoped % "LOCAL"))["events"]["nodes"]] == ["node-a"]
    federation_feed = (await c.client.get("/calendars/federation.ics")).text
    assert made_a["uid"] in federation_feed and made_b["uid"] in federation_feed
    assert made_a["uid"] not in (await c.client.get("/calendars/public.ics")).text  # C's own public feed
    councils = await c.data("{ councils { nodes { name origin } } }")
    assert councils["councils"]["nodes"] == [{"name": "Regional council", "origin": "node-a"}]
    assert (await c.data("{ councils(scope: LOCAL) { nodes { name } } }"))["councils"]["nodes"] == []
    # an edit and a cancellation travel too, keeping the UID and raising the sequence
    await a.data(
        "mutation($id: ID!) { cancelEvent(id: $id) { id } }", {"id": made_a["id"]}, await organiser(mesh, "node-a")
    )
    await mesh.sync()
    replica = await c.data("query($id: ID!) { event(id: $id) { status sequence uid } }", {"id": made_a["id"]})
    assert replica["event"] == {"status": "CANCELLED", "sequence": 1, "uid": made_a["uid"]}
    # replicas are read-only
    denied = await c.error(
        'mutation($id: ID!) { updateEvent(id: $id, changes: {title: "x"}) { id } }',
        {"id": made_a["id"]},
        await organiser(mesh, "node-c"),
    )
    assert denied["extensions"]["code"] == "FORBIDDEN"
    directory = await c.data("{ directory { nodeId name thisNode logPosition } freshness { origin seq } }")
    assert {d["nodeId"] for d in directory["directory"]} == {"node-a", "node-b", "node-c"}
    assert {f["origin"]: f["seq"] for f in directory["freshness"]}["node-a"] >= 3


async def test_global_petition_counts_every_coalition(mesh):
    a, b = mesh.nodes["node-a"], mesh.nodes["node-b"]
    await mesh.peer("node-a", "node-b")
    created = await a.data(
        'mutation($d: DateTime!) { createPetition(input: {title: "Global", decisionMaker: "UN", deadline: $d}) { id } }',
        {"d": SOON},
        await organiser(mesh, "node-a"),
    )
    petition = created["createPetition"]["id"]
    await a.data(
        "mutation($id: ID!) { openPetition(id: $id) { id } }", {"id": petition}, await organiser(mesh, "node-a")
    )
    await a.data(
        "mutation($id: ID!) { signPetition(id: $id) { receipt } }", {"id": petition}, mesh.admins["node-a"]["token"]
    )
    await mesh.sync()
    signers = [await b.join(f"b-member{n}") for n in range(3)]
    for signer in signers:
        await b.data("mutation($id: ID!) { signPetition(id: $id) { receipt } }", {"id": petition}, signer["token"])
    async with a.db.bus.subscribe(f"petition:{petition}") as live:
        await mesh.sync()
        moved = [live.queue.get_nowait() for _ in range(live.queue.qsize())]
    assert moved and moved[-1]["global"] == 4 and moved[-1]["count"] == 1
    query = "query($id: ID!) { petition(id: $id) { origin signatureCount globalCount tallies { coalition signatureCount } } }"
    on_a = (await a.data(query, {"id": petition}))["petition"]
    on_b = (await b.data(query, {"id": petition}))["petition"]
    assert on_a["globalCount"] == on_b["globalCount"] == 4
    assert on_a["origin"] == on_b["origin"] == "node-a"
    assert (await b.data("{ petitions(scope: LOCAL) { nodes { id } } }"))["petitions"]["nodes"] == []
    assert len((await b.data("{ petitions(scope: REMOTE) { nodes { id } } }"))["petitions"]["nodes"]) == 1
    assert {t["coalition"]: t["signatureCount"] for t in on_a["tallies"]} == {"node-a": 1, "node-b": 3}
    # the origin's own petition cannot be edited on a replica
    denied = await b.error(
        "mutation($id: ID!) { closePetition(id: $id) { id } }", {"id": petition}, await organiser(mesh, "node-b")
    )
    assert denied["extensions"]["code"] == "FORBIDDEN"


async def test_an_offline_node_catches_up_and_push_backs_off(mesh):
    a, c = mesh.nodes["node-a"], mesh.nodes["node-c"]
    await mesh.peer("node-a", "node-c")
    mesh.offline.add("node-c")
    for n in range(3):
        await a.data(EVENT, {"t": f"While C was away {n}"}, await organiser(mesh, "node-a"))
    await mesh.federation("node-a").push_once()
    async with a.db.read() as session:
        peer = await session.get(Peer, "node-c")
    assert peer.failures == 1 and peer.next_attempt_at > datetime.now(UTC) and peer.push_cursor == 0
    # not due yet: nothing is attempted
    assert await mesh.federation("node-a").push_once() == {}
    mesh.offline.discard("node-c")
    await mesh.federation("node-c").pull_once()
    assert await titles(c) == [f"While C was away {n}" for n in range(3)]
    # when the backoff has passed, push resumes from its cursor and duplicates nothing
    async with a.db.write() as session:
        await session.execute(update(Peer).where(Peer.id == "node-c").values(next_attempt_at=None))
    sent = await mesh.federation("node-a").push_once()
    assert sent == {"node-c": 3}
    assert await titles(c) == [f"While C was away {n}" for n in range(3)]


async def test_a_node_relays_a_third_nodes_log(mesh):
    a, _, c = mesh.nodes["node-a"], mesh.nodes["node-b"], mesh.nodes["node-c"]
    for x, y in (("node-a", "node-b"), ("node-b", "node-c"), ("node-a", "node-c")):
        await mesh.peer(x, y)
    mesh.offline.add("node-c")
    await a.data(EVENT, {"t": "From A"}, await organiser(mesh, "node-a"))
    await mesh.federation("node-a").push_once()  # reaches B; C is away
    mesh.offline.discard("node-c")
    mesh.offline.add("node-a")  # now A is down
    outcome = await mesh.federation("node-c").pull_once("node-b")
    assert outcome.applied >= 1
    assert await titles(c) == ["From A"]


async def deliver(mesh, sender: str, to: str, entries: list, *, identity=None, tamper_body: bool = False):
    """POST entries to a peer's inbox, signed as ``sender`` (or by another identity)."""
    federation = mesh.federation(sender)
    identity = identity or federation.identity
    content = json.dumps({"entries": entries}).encode()
    request = httpx.Request(
        "POST", f"https://{to}.test/federation/inbox", content=content, headers={"Content-Type": "application/json"}
    )
    sign_request(request, identity.key, identity.key_id)
    if tamper_body:
        request = httpx.Request(
            "POST", request.url, headers=request.headers, content=content.replace(b"entries", b"entrieZ")
        )
    async with mesh.client() as client:
        return await client.send(request), request


async def own_entries(node, origin: str) -> list[dict]:
    async with node.db.read() as session:
        rows = await session.scalars(select(LogEntry).where(LogEntry.origin == origin).order_by(LogEntry.seq))
        return [json.loads(r.envelope) for r in rows]


async def test_duplicated_reordered_replayed_and_tampered_deliveries(mesh):
    a, b = mesh.nodes["node-a"], mesh.nodes["node-b"]
    await mesh.peer("node-a", "node-b")
    for n in range(3):
        await a.data(EVENT, {"t": f"Event {n}"}, await organiser(mesh, "node-a"))
    entries = await own_entries(a, "node-a")
    response, request = await deliver(mesh, "node-a", "node-b", list(reversed(entries)))
    assert response.status_code == 200 and response.json()["applied"] == len(entries)
    again, _ = await deliver(mesh, "node-a", "node-b", entries)
    assert again.json() == {"applied": 0, "duplicates": len(entries), "rejected": [], "gaps": []}
    async with mesh.client() as client:
        replay = await client.send(httpx.Request("POST", request.url, headers=request.headers, content=request.content))
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]
    changed, _ = await deliver(mesh, "node-a", "node-b", entries, tamper_body=True)
    assert changed.status_code == 401 and "digest" in changed.json()["error"].lower()
    await a.data(EVENT, {"t": "Original"}, await organiser(mesh, "node-a"))
    latest = (await own_entries(a, "node-a"))[-1]
    forged = {**latest, "body": {**latest["body"], "title": "Forged"}}
    result, _ = await deliver(mesh, "node-a", "node-b", [forged])
    assert result.json()["rejected"][0]["reason"] == "bad signature"
    assert "Forged" not in await titles(b)
    gap = {**latest, "seq": latest["seq"] + 5}
    assert (await deliver(mesh, "node-a", "node-b", [gap]))[0].json()["gaps"] == ["node-a"]


async def test_wrong_keys_and_forks_are_refused_and_reported(mesh):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from federation.identity import Identity

    a, b = mesh.nodes["node-a"], mesh.nodes["node-b"]
    await mesh.peer("node-a", "node-b")
    await a.data(EVENT, {"t": "Genuine"}, await organiser(mesh, "node-a"))
    await mesh.sync()
    stranger = Identity("node-a", Ed25519PrivateKey.generate())  # claims to be A with another key
    response, _ = await deliver(mesh, "node-a", "node-b", [], identity=stranger)
    assert response.status_code == 401 and "unknown key" in response.json()["error"]
    unpeered, _ = await deliver(mesh, "node-c", "node-b", [])
    assert unpeered.status_code == 401
    genuine = (await own_entries(a, "node-a"))[-1]
    unsigned = {k: v for k, v in genuine.items() if k != "sig"}
    forked = sign(
        {**unsigned, "body": {**unsigned["body"], "title": "Rewritten history"}}, mesh.federation("node-a").identity.key
    )
    result, _ = await deliver(mesh, "node-a", "node-b", [forked])
    assert "fork" in result.json()["rejected"][0]["reason"]
    forks = await b.data("{ forks { origin seq keptHash offeredHash } }", token=mesh.admins["node-b"]["token"])
    assert forks["forks"][0]["origin"] == "node-a" and forks["forks"][0]["seq"] == genuine["seq"]
    assert await titles(b) == ["Genuine"]  # the kept entry is untouched


async def test_a_blocked_peer_is_refused_both_ways_and_purged(mesh):
    a, b = mesh.nodes["node-a"], mesh.nodes["node-b"]
    await mesh.peer("node-a", "node-b")
    await a.data(EVENT, {"t": "Before the block"}, await organiser(mesh, "node-a"))
    await mesh.sync()
    assert await titles(b) == ["Before the block"]
    blocked = await b.data(
        'mutation { blockPeer(id: "node-a", purge: true) { state } }', token=mesh.admins["node-b"]["token"]
    )
    assert blocked["blockPeer"]["state"] == "BLOCKED"
    assert await titles(b) == []
    await a.data(EVENT, {"t": "After the block"}, await organiser(mesh, "node-a"))
    response, _ = await deliver(mesh, "node-a", "node-b", await own_entries(a, "node-a"))
    assert response.status_code == 403 and "blocked" in response.json()["error"]
    await mesh.federation("node-b").pull_once()
    assert await titles(b) == []


async def test_key_rotation_is_followed_by_a_node_that_was_away(mesh):
    from federation.identity import load_identity
    from federation.log import LogWriter
    from federation.rotation import rotate

    a, b = mesh.nodes["node-a"], mesh.nodes["node-b"]
    await mesh.peer("node-a", "node-b")
    await a.data(EVENT, {"t": "Old key"}, await organiser(mesh, "node-a"))
    mesh.offline.add("node-b")
    new = await rotate(a.db, a.settings)
    federation = mesh.federation("node-a")
    federation.identity = load_identity(a.settings)  # as a restarted server would
    a.db.log = LogWriter(federation.identity)
    assert federation.identity.key_id == new.key_id
    await a.data(EVENT, {"t": "New key"}, await organiser(mesh, "node-a"))
    mesh.offline.discard("node-b")
    await mesh.federation("node-b").pull_once()
    assert await titles(b) == ["New key", "Old key"]
    document = (await a.client.get("/.well-known/coalition-node")).json()
    assert [k["valid_until"] is None for k in document["keys"]] == [False, True]


async def test_no_member_data_ever_enters_an_envelope(mesh):
    """Every update kind, built from real operations, checked for any trace of a member."""
    from federation.kinds import KINDS

    a, _ = mesh.nodes["node-a"], mesh.nodes["node-b"]
    await mesh.peer("node-a", "node-b")
    token = await organiser(mesh, "node-a")
    people = [await a.join(f"private-person-{n}") for n in range(2)]
    await a.data('mutation { updateMyAccount(email: "hidden@example.org") { email } }', token=people[0]["token"])
    council = (await a.data('mutation { createCouncil(input: {name: "C"}) { id } }', token=token))["createCouncil"][
        "id"
    ]
    await a.data(
        "mutation($c: ID!, $m: ID!) { addCouncilSeat(input: {councilId: $c, memberId: $m}) { id } }",
        {"c": council, "m": people[0]["id"]},
        token,
    )
    await a.data(
        'mutation($c: ID!) { recordCouncilDecision(input: {councilId: $c, decidedOn: "2026-05-01", title: "D", outcome: ADOPTED}) { id } }',
        {"c": council},
        token,
    )
    await a.data(
        "mutation($c: ID!) { updateCouncil(id: $c, changes: {visibility: MEMBERS}) { id } }", {"c": council}, token
    )
    event = (await a.data(EVENT, {"t": "E"}, token))["createEvent"]["id"]
    await a.data("mutation($id: ID!) { register(eventId: $id) { status } }", {"id": event}, people[0]["token"])
    await a.data("mutation($id: ID!) { deleteEvent(id: $id) }", {"id": event}, token)
    petition = (
        await a.data(
            'mutation($d: DateTime!) { createPetition(input: {title: "P", decisionMaker: "M", deadline: $d}) { id } }',
            {"d": SOON},
            token,
        )
    )["createPetition"]["id"]
    await a.data("mutation($id: ID!) { openPetition(id: $id) { id } }", {"id": petition}, token)
    receipts = []
    for person, named in zip(people, (True, False), strict=True):
        receipts.append(
            (
                await a.data(
                    "mutation($id: ID!, $n: Boolean!) { signPetition(id: $id, named: $n) { receipt } }",
                    {"id": petition, "n": named},
                    person["token"],
                )
            )["signPetition"]["receipt"]
        )
    from schema.reviews.plans import default_plan

    await a.data("mutation($t: String!) { importPlan(toml: $t) { added } }", {"t": default_plan()}, token)
    await a.data(
        'mutation { createReviewCycle(key: "2026", name: "2026", planId: "survivor-leadership-2023-2033", opensOn: "2026-01-01", closesOn: "2099-12-31") { key } }',
        token=token,
    )
    drafted = await a.data(
        'mutation { draftReport(input: {cycleKey: "2026", actionKey: "decisions.3.12", committed: true, progress: 30, narrative: "With our partners"}) { id } }',
        token=token,
    )
    await a.data(
        "mutation($id: ID!) { publishReport(id: $id) { published } }", {"id": drafted["draftReport"]["id"]}, token
    )
    entries = await own_entries(a, "node-a")
    assert {e["kind"] for e in entries} == set(KINDS), "every update kind is exercised"
    await mesh.sync()
    async with mesh.client() as client:
        served = [
            await mesh.federation("node-b").request(
                "GET", "https://node-a.test/federation/log/node-a?after=0&limit=1000"
            )
        ]
        served.append(await mesh.federation("node-b").request("GET", "https://node-a.test/federation/logs"))
        served.append(await client.get("https://node-a.test/.well-known/coalition-node"))
    texts = [json.dumps(entries)] + [r.text for r in served]
    async with a.db.read() as session:
        from server.accounts.tables import AuthSession, Member

        members = list(await session.scalars(select(Member)))
        token_hashes = list(await session.scalars(select(AuthSession.token_hash)))
    secrets = [m.id for m in members] + [m.handle for m in members if m.handle] + ["hidden@example.org"]
    secrets += [m.password_hash for m in members if m.password_hash] + token_hashes + receipts
    secrets += [p["token"] for p in people] + [mesh.admins["node-a"]["token"]]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret[:12]}... left the node"


def test_only_the_final_state_per_subject_is_applied_where_it_first_appeared():
    from federation.apply import _final_states

    def entry(seq, kind, subject):
        return {"seq": seq, "kind": kind, "subject": subject}

    batch = [
        entry(1, "council.upsert", "a/council/1"),
        entry(2, "decision.upsert", "a/decision/9"),
        entry(3, "council.upsert", "a/council/1"),
        entry(4, "node.key", "a/node/key"),
        entry(5, "node.key", "a/node/key"),
    ]
    assert [e["seq"] for e in _final_states(batch)] == [3, 2, 4, 5]


async def test_a_malformed_batch_gets_400(mesh):
    await mesh.peer("node-a", "node-b")
    federation = mesh.federation("node-a")
    for payload in ({"entries": "not a list"}, {"nothing": []}, {"entries": [{}] * 1001}):
        response = await federation.request("POST", "https://node-b.test/federation/inbox", payload)
        assert response.status_code == 400 and "entries" in response.json()["error"]
    shapeless = await federation.request("POST", "https://node-b.test/federation/inbox", {"entries": [{"v": 2}]})
    assert shapeless.status_code == 200 and shapeless.json()["rejected"][0]["reason"].startswith("an envelope has")
