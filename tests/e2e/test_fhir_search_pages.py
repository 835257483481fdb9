"""FHIR search pages (issue 16): what a search filters by is asked of the database, so a page is
full unless it is the last; a comma list is one query, paged as one; ``_id`` applies together
with the other parameters.

Each searcher is searched with ``_count=2`` over more matching and non-matching records than a
page holds (their ids, uuids, fall in any order): every page but the last must hold two
matches, and the pages together every match, each once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import ClientFor
from tests.e2e.test_fhir import fhir
from tests.e2e.test_plan_scenarios import ok
from tests.factories import admit, create_person, notice

COUNT = 2


async def walk(client: httpx.AsyncClient, path: str, params: Any) -> list[list[str]]:
    """The ids of the matches of each page, following the next links."""
    body = fhir(await client.get(path, params=params))
    pages = []
    while True:
        pages.append([e["resource"]["id"] for e in body.get("entry", [])])
        assert all(e["search"]["mode"] == "match" for e in body.get("entry", []))
        link = next((x["url"] for x in body["link"] if x["relation"] == "next"), None)
        if link is None:
            return pages
        body = fhir(await client.get(link))


async def assert_paged(
    client: httpx.AsyncClient, path: str, params: dict[str, str], wanted: set[str]
) -> None:
    """Every page but the last is full, and the pages hold every match once."""
    pages = await walk(client, path, {**params, "_count": str(COUNT)})
    assert all(len(page) == COUNT for page in pages[:-1]), pages
    found = [i for page in pages for i in page]
    assert len(found) == len(set(found)), pages
    assert set(found) == wanted, (path, params)
    assert found == sorted(found), "a search is paged in id order"


async def plans(client: httpx.AsyncClient, person_id: str, n: int) -> list[dict[str, Any]]:
    return [
        ok(
            await client.post(
                "/api/v1/plans",
                json={
                    "person_id": person_id,
                    "title": f"Plan {i}",
                    "goals": [{"id": "g1", "description": "Hem", "target_date": None}],
                },
            ),
            201,
        )
        for i in range(n)
    ]


async def test_plan_searches_fill_their_pages(client: httpx.AsyncClient) -> None:
    person = await create_person(client, municipality="kommun-2580")
    made = await plans(client, person["id"], 10)
    for plan in made[::2]:
        ok(await client.post(f"/api/v1/plans/{plan['id']}/cancel", json={"reason": "Ny plan"}))
    cancelled = {p["id"] for p in made[::2]}
    drafts = {p["id"] for p in made} - cancelled
    mine = {"patient": person["id"]}
    await assert_paged(client, "/fhir/CarePlan", {**mine, "status": "draft"}, drafts)
    await assert_paged(client, "/fhir/CarePlan", {**mine, "status": "revoked"}, cancelled)
    # category is the plan's kind (every plan here is Swedish, a SIP).
    await assert_paged(client, "/fhir/CarePlan", {**mine, "category": "SIP"}, drafts | cancelled)
    await assert_paged(client, "/fhir/CarePlan", {**mine, "category": "IP"}, set())
    await assert_paged(client, "/fhir/CareTeam", {**mine, "status": "inactive"}, cancelled)
    await assert_paged(client, "/fhir/CareTeam", {**mine, "status": "proposed"}, drafts)
    goals = {f"{p}.g1" for p in cancelled}
    await assert_paged(client, "/fhir/Goal", {**mine, "lifecycle-status": "cancelled"}, goals)
    # A comma list is one query: paged in id order across both values.
    both = {**mine, "status": "draft,revoked"}
    await assert_paged(client, "/fhir/CarePlan", both, drafts | cancelled)
    some = sorted(drafts)[:3] + sorted(cancelled)[:2]
    await assert_paged(client, "/fhir/CarePlan", {"_id": ",".join(some)}, set(some))
    # _id applies together with the other parameters.
    await assert_paged(
        client, "/fhir/CarePlan", {"_id": ",".join(some), "status": "draft"}, set(some) & drafts
    )
    other = await create_person(client, municipality="kommun-2580")
    await assert_paged(client, "/fhir/CarePlan", {"_id": some[0], "patient": other["id"]}, set())


async def test_id_with_other_parameters_finds_only_what_matches_them(
    client: httpx.AsyncClient,
    now: datetime,
) -> None:
    person = await create_person(client, municipality="kommun-2580")
    [plan] = await plans(client, person["id"], 1)

    async def ids(path: str, params: dict[str, str]) -> list[str]:
        body = fhir(await client.get(path, params=params))
        return [e["resource"]["id"] for e in body.get("entry", [])]

    assert await ids("/fhir/CarePlan", {"_id": plan["id"], "status": "completed"}) == []
    assert await ids("/fhir/CarePlan", {"_id": plan["id"], "status": "draft"}) == [plan["id"]]
    assert await ids("/fhir/CareTeam", {"_id": plan["id"], "status": "active"}) == []
    goal = f"{plan['id']}.g1"
    assert await ids("/fhir/Goal", {"_id": goal, "lifecycle-status": "active"}) == []
    assert await ids("/fhir/Goal", {"_id": goal, "lifecycle-status": "proposed"}) == [goal]
    assert await ids("/fhir/Goal", {"_id": goal, "patient": person["id"]}) == [goal]
    episode = await admit(client, person["id"], now - timedelta(days=2))
    assert await ids("/fhir/Encounter", {"_id": episode["id"], "status": "finished"}) == []
    assert await ids("/fhir/Encounter", {"_id": episode["id"], "status": "in-progress"}) == [
        episode["id"]
    ]
    assert await ids("/fhir/Patient", {"_id": person["id"], "organization": "kommun-0880"}) == []
    assert await ids("/fhir/Patient", {"_id": person["id"], "organization": "kommun-2580"}) == [
        person["id"]
    ]


async def test_encounter_states_are_searched_in_the_query(
    client: httpx.AsyncClient, now: datetime
) -> None:
    person = await create_person(client, municipality="kommun-2580")
    stays = [await admit(client, person["id"], now - timedelta(days=10 - i)) for i in range(8)]
    for stay in stays[::2]:
        response = await notice(client, stay["id"], "discharge", now - timedelta(hours=1))
        assert response.status_code == 200, response.text
    finished = {s["id"] for s in stays[::2]}
    staying = {s["id"] for s in stays} - finished
    mine = {"patient": person["id"]}
    # in-progress is three states of an episode (admitted, planning, discharge-ready).
    await assert_paged(client, "/fhir/Encounter", {**mine, "status": "in-progress"}, staying)
    await assert_paged(client, "/fhir/Encounter", {**mine, "status": "finished"}, finished)
    # date: matched on the found stays, read on until the page is full. Each discharged stay
    # ended an hour ago; the others go on.
    await assert_paged(
        client, "/fhir/Encounter", {**mine, "date": f"gt{now.date().isoformat()}"}, staying
    )


async def test_appointment_status_is_searched_in_the_query(
    client: httpx.AsyncClient, now: datetime
) -> None:
    person = await create_person(client, municipality="kommun-2580")
    [plan] = await plans(client, person["id"], 1)
    starts = now + timedelta(days=3)
    meetings = [
        ok(
            await client.post(
                "/api/v1/meetings",
                json={
                    "plan_id": plan["id"],
                    "starts_at": (starts + timedelta(hours=i)).isoformat(),
                    "reply_by": starts.date().isoformat(),
                    "video_link": "https://mote.example/plan",
                    "participants": [{"id": "p", "kind": "person"}],
                },
            ),
            201,
        )
        for i in range(8)
    ]
    for meeting in meetings[1::2]:
        ok(await client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "Sjuk"}))
    cancelled = {m["id"] for m in meetings[1::2]}
    booked = {m["id"] for m in meetings} - cancelled
    mine = {"patient": person["id"]}
    await assert_paged(client, "/fhir/Appointment", {**mine, "status": "booked"}, booked)
    await assert_paged(client, "/fhir/Appointment", {**mine, "status": "cancelled"}, cancelled)
    await assert_paged(
        client, "/fhir/Appointment", {**mine, "status": "booked,cancelled"}, booked | cancelled
    )


async def message(
    sender: httpx.AsyncClient, to: str, person_id: str, text: str, **extra: str
) -> dict[str, Any]:
    body = {"recipients": [to], "person_id": person_id, "category": "discharge", "text": text}
    return ok(await sender.post("/api/v1/care-messages", json={**body, **extra}), 201)


async def test_a_thread_search_leaves_out_its_first_message_in_the_query(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    municipality = await client_for("kommun-0880")
    person = await create_person(hospital, municipality="kommun-0880")
    first = await message(hospital, "kommun-0880", person["id"], "Hemgång fredag.")
    replies = {
        (
            await message(
                municipality, "region-kalmar", person["id"], f"Svar {i}", in_reply_to=first["id"]
            )
        )["id"]
        for i in range(5)
    }
    await assert_paged(hospital, "/fhir/Communication", {"part-of": first["id"]}, replies)


async def test_audit_event_dates_are_searched_in_the_query(
    client: httpx.AsyncClient, now: datetime
) -> None:
    person = await create_person(client, municipality="kommun-2580")
    for _ in range(4):
        ok(await client.get(f"/api/v1/persons/{person['id']}"))
    # Reading the log is itself logged: what a walk reads is what was logged before it began.
    before = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    await asyncio.sleep(1.1)
    mine = {"patient": person["id"], "date": f"lt{before.isoformat()}"}
    logged = await walk(client, "/fhir/AuditEvent", {**mine, "_count": "200"})
    everything = set(logged[0])
    assert len(logged) == 1 and len(everything) >= 5
    await assert_paged(client, "/fhir/AuditEvent", mine, everything)
    later = {"patient": person["id"], "date": f"ge{before.isoformat()}", "_count": "200"}
    [since] = await walk(client, "/fhir/AuditEvent", later)
    assert since and not set(since) & everything
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    await assert_paged(
        client, "/fhir/AuditEvent", {"patient": person["id"], "date": f"ge{tomorrow}"}, set()
    )


FHIR_JSON = {"Content-Type": "application/fhir+json"}


async def post_bundle(
    client: httpx.AsyncClient, kind: str, entries: list[dict[str, Any]], **headers: str
) -> dict[str, Any]:
    body = {"resourceType": "Bundle", "type": kind, "entry": entries}
    response = await client.post("/fhir", json=body, headers={**FHIR_JSON, **headers})
    return fhir(response)


async def test_a_search_in_a_batch_or_transaction_answers_its_searchset(
    client: httpx.AsyncClient,
) -> None:
    person = await create_person(client, municipality="kommun-2580")
    made = await plans(client, person["id"], 3)
    query = f"CarePlan?patient={person['id']}&status=draft&_count=2"
    direct = fhir(await client.get(f"/fhir/{query}"))
    for kind in ("batch", "transaction"):
        answered = await post_bundle(
            client,
            kind,
            [
                {"request": {"method": "GET", "url": query}},
                {"request": {"method": "GET", "url": f"CarePlan/{made[0]['id']}"}},
            ],
        )
        assert answered["type"] == f"{kind}-response"
        searched, read = answered["entry"]
        assert searched["response"]["status"] == "200 OK"
        bundle = searched["resource"]
        # The searchset GET [base]/CarePlan?… returns: the same matches, paged the same way.
        assert bundle["type"] == "searchset"
        assert [e["resource"]["id"] for e in bundle["entry"]] == [
            e["resource"]["id"] for e in direct["entry"]
        ]
        assert len(bundle["entry"]) == 2
        relations = {x["relation"]: x["url"] for x in bundle["link"]}
        assert relations["self"].endswith(f"/fhir/{query}")
        assert "_cursor=" in relations["next"]
        assert read["resource"]["id"] == made[0]["id"]
    # A refused search is its entry's refusal in a batch, the whole transaction's in one.
    wrong = {"request": {"method": "GET", "url": "CarePlan?colour=blue"}}
    refused = await post_bundle(client, "batch", [wrong])
    assert refused["entry"][0]["response"]["status"].startswith("4")
    response = await client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": [wrong]},
        headers=FHIR_JSON,
    )
    assert 400 <= response.status_code < 500
    assert "colour" in response.text


async def test_unknown_parameters_refused_when_strict_listed_when_lenient(
    client: httpx.AsyncClient,
) -> None:
    from app.fhir.resources import RESOURCES

    for kind in [*RESOURCES, "Subscription"]:
        strict = await client.get(
            f"/fhir/{kind}", params={"colour": "blue"}, headers={"Prefer": "handling=strict"}
        )
        assert 400 <= strict.status_code < 500, (kind, strict.text)
        assert strict.json()["resourceType"] == "OperationOutcome"
        assert "colour" in strict.text, kind
        unsaid = await client.get(f"/fhir/{kind}", params={"colour": "blue"})
        assert unsaid.status_code == strict.status_code, kind
        lenient = await client.get(
            f"/fhir/{kind}",
            params={"colour": "blue", "_count": "1"},
            headers={"Prefer": "handling=lenient"},
        )
        body = fhir(lenient)
        assert body["type"] == "searchset", kind
        outcomes = [e for e in body["entry"] if e["search"]["mode"] == "outcome"]
        assert len(outcomes) == 1, kind
        [issue] = outcomes[0]["resource"]["issue"]
        assert issue["expression"] == ["colour"]
        assert issue["severity"] == "warning"
        self_link = next(x["url"] for x in body["link"] if x["relation"] == "self")
        assert "colour" not in self_link and "_count=1" in self_link, (kind, self_link)


async def test_patient_pages_and_a_stranger_running_the_same_statement(
    client: httpx.AsyncClient, client_for: ClientFor, now: datetime
) -> None:
    """The Patient search's statement is built once per shape and kept (issue 20): each walk
    binds its own reach, filters and cursor. Luleå's persons fill their pages in id order; a
    region of the same reach shape, walking the same filters right after, finds none of them."""
    persons = [await create_person(client, municipality="kommun-2580") for _ in range(5)]
    for person in persons:
        await admit(client, person["id"], now - timedelta(days=1))
    mine = {p["id"] for p in persons}
    by_town = {"organization": "kommun-2580", "_count": "100"}
    [found] = await walk(client, "/fhir/Patient", by_town)
    assert len(found) == len(set(found)) and found == sorted(found), found
    assert mine <= set(found)
    first_two = await walk_one(client, {**by_town, "_count": str(COUNT)})
    assert first_two == found[:COUNT]
    first = persons[0]
    identifier = f"{first['identifier']['system']}|{first['identifier']['value']}"
    with_identifier = {"organization": "kommun-2580", "identifier": identifier}
    assert await walk(client, "/fhir/Patient", with_identifier) == [[first["id"]]]
    stranger = await client_for("region-kalmar")
    theirs = await walk(stranger, "/fhir/Patient", by_town)
    assert not mine & {i for page in theirs for i in page}
    assert await walk(stranger, "/fhir/Patient", with_identifier) == [[]]


async def walk_one(client: httpx.AsyncClient, params: dict[str, str]) -> list[str]:
    """The ids of the first page of a Patient search, which must have a next page."""
    body = fhir(await client.get("/fhir/Patient", params=params))
    assert any(x["relation"] == "next" for x in body["link"]), body["link"]
    return [e["resource"]["id"] for e in body.get("entry", [])]


async def test_a_patient_search_walked_through_its_next_links_lists_each_person_once_in_order(
    client: httpx.AsyncClient,
) -> None:
    """A Patient search is walked page by page through its next links: each person comes once,
    in id order, as in one page; no link names a person (the cursor is opaque), so no page
    shows a person it did not list and log (the conftest guard checks every page)."""
    persons = [await create_person(client, municipality="kommun-2580") for _ in range(5)]
    mine = {p["id"] for p in persons}
    by_town = {"organization": "kommun-2580"}
    [whole] = await walk(client, "/fhir/Patient", {**by_town, "_count": "100"})
    assert mine <= set(whole) and len(whole) < 100
    pages = await walk(client, "/fhir/Patient", {**by_town, "_count": str(COUNT)})
    assert len(pages) > 2 and all(len(page) == COUNT for page in pages[:-1]), pages
    walked = [i for page in pages for i in page]
    assert walked == whole == sorted(set(walked))
    # The links name no person: the second page's self link repeats the first page's cursor.
    first = fhir(await client.get("/fhir/Patient", params={**by_town, "_count": str(COUNT)}))
    following = next(x["url"] for x in first["link"] if x["relation"] == "next")
    second = fhir(await client.get(following))
    urls = [x["url"] for body in (first, second) for x in body["link"]]
    assert not [u for u in urls if any(person in u for person in whole)], urls
    # A cursor the service did not give out (a person's id, as cursors were) is a 422.
    refused = await client.get("/fhir/Patient", params={**by_town, "_cursor": whole[0]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["details"]["text"] == "_cursor"
