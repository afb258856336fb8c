"""Signed webhooks end to end, on SQLite and PostgreSQL: registration and its SSRF checks, a
local receiver verifying every delivery, retries, the delivery log and redelivery by hand."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reelforge.api.schemas import WebhookEvent
from reelforge.db.crud.webhooks import EVENTS
from reelforge.db.models import (
    Event,
    User,
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    utcnow,
)
from reelforge.jobs.retry import ErrorClass
from reelforge.jobs.webhook_http import Outcome, post
from reelforge.jobs.webhooks import EVENT_TYPES, WebhookLoop, WebhookSender
from reelforge.platform.retention import PruneLoop
from reelforge.platform.services import Platform
from reelforge.security.addresses import check_url
from reelforge.security.webhooks import verify_webhook
from tests.integration.api.conftest import ClientFactory, sign_up
from tests.integration.api.test_isolation import WEBHOOK_ROUTES
from tests.support.stubs.base import Recorded, StubResponse, StubServer

HOOKS = {"allow_private": True, "base_delay_s": 0.01}
"""The receiver listens on 127.0.0.1, and retries come after ~10 ms instead of 5 s."""
Headers = dict[str, str]


@pytest.fixture
def receiver() -> Iterator[StubServer]:
    with StubServer({("POST", r"/hook"): lambda request, match: StubResponse(200)}) as stub:
        yield stub


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client(webhooks=HOOKS)


def _platform(client: TestClient) -> Platform:
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    return platform


def _sender(client: TestClient) -> WebhookSender:
    platform = _platform(client)
    return WebhookSender(
        platform.engine, platform.secret_box, allow_private=True, base_delay_s=0.01, settle_s=0
    )


def _register(client: TestClient, headers: Headers, url: str, **body: Any) -> dict[str, Any]:
    events = body.pop("events", ["render.succeeded", "render.failed", "render.canceled"])
    response = client.post("/api/v1/webhooks", json={"url": url, "events": events} | body,
                           headers=headers)  # fmt: skip
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _owner(client: TestClient, headers: Headers) -> User:
    email = client.get("/api/v1/users/me", headers=headers).json()["email"]
    with _platform(client).sessions() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        session.expunge(user)
        return user


def _job(client: TestClient, owner: User, outcome: str) -> uuid.UUID:
    """A job that ends as `outcome` through the queue's own calls (its events included)."""
    jobs = _platform(client).jobs
    with Session(jobs.engine) as session, session.begin():
        job_id = jobs.enqueue(session, owner, kind="noop", max_attempts=1).id
    if outcome == "canceled":
        jobs.cancel(job_id, owner.id)
        return job_id
    [claimed] = jobs.claim("test-worker")
    assert claimed.id == job_id
    if outcome == "succeeded":
        jobs.succeed(job_id, "test-worker", {"duration_s": 1.0})
    else:
        jobs.fail(job_id, "test-worker", ErrorClass.VALIDATION, "bad storyboard", "script", 1, 1,
                  detail="stderr of a tool")  # fmt: skip
    return job_id


def _drain(sender: WebhookSender, until: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not until():
        assert time.monotonic() < deadline, "webhook deliveries did not arrive in time"
        if sender.run_once() == 0:
            time.sleep(0.01)


def _verified(secret: str, request: Recorded) -> dict[str, Any]:
    verify_webhook(secret, request.headers, request.body)
    body: dict[str, Any] = request.json()
    return body


def _log(client: TestClient, headers: Headers, hook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    log: list[dict[str, Any]] = response.json()
    return log


def test_each_event_reaches_the_receiver_once_signed(
    client: TestClient, receiver: StubServer
) -> None:
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    assert hook["secret"].startswith("whsec_")
    only_failures = _register(client, headers, receiver.url + "/hook", events=["render.failed"])
    owner = _owner(client, headers)
    jobs = {
        outcome: _job(client, owner, outcome) for outcome in ("succeeded", "failed", "canceled")
    }
    sender = _sender(client)
    _drain(sender, lambda: receiver.count("POST", "/hook") >= 4)
    for _ in range(3):  # more passes, and a second sender: nothing is sent twice
        sender.run_once()
        _sender(client).run_once()
    assert receiver.count("POST", "/hook") == 4
    with _platform(client).engine.begin() as conn:  # the fan-out read again from the start
        conn.execute(update(WebhookCursor).values(last_event_id=0))
    assert sender.fan_out() == 0  # one delivery per (event, endpoint), whatever happens

    by_id = {r.headers["webhook-id"]: r for r in receiver.matching("POST", "/hook")}
    assert len(by_id) == 4
    first_log = {d["id"]: d for d in _log(client, headers, hook["id"])}
    seen = {_verified(hook["secret"], by_id[i])["type"]: _verified(hook["secret"], by_id[i])
            for i in first_log}  # fmt: skip
    assert set(seen) == {"render.succeeded", "render.failed", "render.canceled"}
    assert seen["render.succeeded"]["data"]["render_id"] == str(jobs["succeeded"])
    assert seen["render.succeeded"]["data"]["result"] == {"duration_s": 1.0}
    assert seen["render.failed"]["data"]["error_message"] == "bad storyboard"
    assert "stderr of a tool" not in by_id[next(iter(by_id))].body.decode() + str(seen)
    assert all(d["state"] == "succeeded" and len(d["attempts"]) == 1 for d in first_log.values())
    assert first_log[next(iter(first_log))]["attempts"][0]["status_code"] == 200
    [failure] = _log(client, headers, only_failures["id"])
    assert failure["event_type"] == "render.failed"
    _verified(only_failures["secret"], by_id[failure["id"]])


def test_a_failing_receiver_gets_retries_then_a_redelivery_by_hand(
    client: TestClient, receiver: StubServer
) -> None:
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    receiver.fail_next("/hook", *(StubResponse(500, body=b"down " * 500) for _ in range(3)))
    _job(client, _owner(client, headers), "succeeded")
    sender = _sender(client)
    _drain(sender, lambda: receiver.count("POST", "/hook") == 4)

    [delivery] = _log(client, headers, hook["id"])
    assert delivery["state"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])
    assert len(delivery["attempts"][0]["response_excerpt"]) == 1024  # bounded
    ids = {r.headers["webhook-id"] for r in receiver.matching("POST", "/hook")}
    assert ids == {delivery["id"]}  # one delivery, retried under the same id

    url = f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    response = client.post(url, headers=headers)
    assert response.status_code == 202, response.text
    _drain(sender, lambda: receiver.count("POST", "/hook") == 5)
    last = receiver.matching("POST", "/hook")[-1]
    assert last.headers["webhook-id"] == delivery["id"]
    _verified(hook["secret"], last)
    [again] = _log(client, headers, hook["id"])
    assert [a["status_code"] for a in again["attempts"]] == [500, 500, 500, 200, 200]


def test_a_sender_that_dies_mid_attempt_loses_nothing(
    client: TestClient, receiver: StubServer
) -> None:
    """Its lease runs out and another sender delivers; its late outcome changes nothing."""
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    _job(client, _owner(client, headers), "canceled")
    crashed = _sender(client)
    crashed.fan_out()
    [held] = crashed.claim(10)  # ...and then it dies before sending
    assert _sender(client).run_once() == 0  # leased: nobody else takes it yet
    platform = _platform(client)
    later = WebhookSender(
        platform.engine, platform.secret_box, allow_private=True, settle_s=0,
        clock=lambda: utcnow() + timedelta(seconds=held.lease.timestamp() - time.time() + 1),
    )  # fmt: skip
    assert later.run_once() == 1
    crashed.record(held, Outcome(500, 3))  # a zombie's report: logged, not obeyed
    [delivery] = _log(client, headers, hook["id"])
    assert delivery["state"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [200, 500]
    assert receiver.count("POST", "/hook") == 1


def test_a_delivery_fails_once_its_retry_window_is_over(
    client: TestClient, receiver: StubServer
) -> None:
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    receiver.fail_next("/hook", *(StubResponse(503) for _ in range(50)))
    _job(client, _owner(client, headers), "canceled")
    platform = _platform(client)
    sender = WebhookSender(
        platform.engine, platform.secret_box, allow_private=True, base_delay_s=0.01,
        retry_window_s=3.0, settle_s=0,
    )  # fmt: skip
    _drain(sender, lambda: [d["state"] for d in _log(client, headers, hook["id"])] == ["failed"])
    [delivery] = _log(client, headers, hook["id"])
    assert delivery["next_attempt_at"] is None
    assert 2 <= len(delivery["attempts"]) <= 6
    assert {a["status_code"] for a in delivery["attempts"]} == {503}


def test_the_sender_loop_delivers_and_stops_promptly(
    client: TestClient, receiver: StubServer
) -> None:
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook", events=["render.canceled"])
    loop = WebhookLoop(_sender(client), poll_s=0.02)
    loop.start()
    try:
        _job(client, _owner(client, headers), "canceled")
        deadline = time.monotonic() + 5
        while receiver.count("POST", "/hook") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        started = time.monotonic()
        assert loop.stop(timeout_s=5)
        assert time.monotonic() - started < 1
    _verified(hook["secret"], receiver.matching("POST", "/hook")[0])


PRIVATE_URLS = (
    "http://127.0.0.1/hook", "http://169.254.169.254/", "http://10.0.0.1/", "http://localhost/x",
)  # fmt: skip


def test_serve_with_workers_sends_webhooks_and_stops_them(
    make_client: ClientFactory, receiver: StubServer
) -> None:
    """`reelforge serve` with in-process workers runs the sender, and stops it with them."""
    client = make_client(workers=1, webhooks=HOOKS | {"poll_s": 0.05})
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    owner, jobs = _owner(client, headers), _platform(client).jobs
    with Session(jobs.engine) as session, session.begin():  # canceled before a worker sees it
        job_id = jobs.enqueue(session, owner, kind="noop").id
        jobs.cancel(job_id, owner.id, session=session)
    deadline = time.monotonic() + 5
    while receiver.count("POST", "/hook") == 0:
        assert time.monotonic() < deadline, "the sender in serve did not deliver"
        time.sleep(0.02)
    body = _verified(hook["secret"], receiver.matching("POST", "/hook")[0])
    assert body["data"]["render_id"] == str(job_id)
    started = time.monotonic()
    client.__exit__(None, None, None)
    assert time.monotonic() - started < 5
    assert not [t for t in threading.enumerate() if t.name == "webhooks"]


def test_private_addresses_are_refused_unless_allowed(make_client: ClientFactory) -> None:
    client = make_client()
    headers = sign_up(client)
    for url in PRIVATE_URLS:
        body = {"url": url, "events": ["render.succeeded"]}
        response = client.post("/api/v1/webhooks", json=body, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert "public addresses only" in response.json()["detail"]
    assert client.get("/api/v1/webhooks", headers=headers).json() == []


def test_endpoints_are_checked_again_when_sending(
    make_client: ClientFactory, receiver: StubServer
) -> None:
    """Allowed at registration, refused at delivery (the setting, or DNS, changed since)."""
    client = make_client(webhooks=HOOKS)
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    _job(client, _owner(client, headers), "canceled")
    platform = _platform(client)
    strict = WebhookSender(platform.engine, platform.secret_box, base_delay_s=0.01, settle_s=0)
    strict.run_once()
    [delivery] = _log(client, headers, hook["id"])
    assert delivery["state"] == "pending"
    assert delivery["attempts"][0]["status_code"] is None
    assert "public addresses only" in delivery["attempts"][0]["error"]
    assert receiver.count() == 0


def test_redirects_are_not_followed(client: TestClient, receiver: StubServer) -> None:
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    receiver.fail_next("/hook", StubResponse(302, headers={"Location": receiver.url + "/other"}))
    _job(client, _owner(client, headers), "canceled")
    _sender(client).run_once()
    [delivery] = _log(client, headers, hook["id"])
    assert delivery["attempts"][0]["status_code"] == 302
    assert delivery["state"] == "pending"
    assert receiver.count(path_prefix="/other") == 0


def test_create_read_update_rotate_delete(client: TestClient, receiver: StubServer) -> None:
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook", description="CI")
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers).json()
    patched = client.patch(f"/api/v1/webhooks/{hook['id']}", headers=headers,
                           json={"events": ["batch.finished"], "enabled": False})  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert (patched.json()["events"], patched.json()["enabled"]) == (["batch.finished"], False)
    bad = client.patch(f"/api/v1/webhooks/{hook['id']}", headers=headers,
                       json={"events": ["render.exploded"]})  # fmt: skip
    assert bad.status_code == 422
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (hook["secret"], None)
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/webhooks", headers=headers).json() == []


def test_another_users_webhook_is_not_found(client: TestClient, receiver: StubServer) -> None:
    """Every webhook route with an id (`test_isolation.WEBHOOK_ROUTES`) answers 404, never 403."""
    mine, theirs = sign_up(client), sign_up(client)
    hook = _register(client, mine, receiver.url + "/hook")
    _job(client, _owner(client, mine), "canceled")
    _sender(client).run_once()
    [delivery] = _log(client, mine, hook["id"])
    for method, route in sorted(WEBHOOK_ROUTES):
        path = route.format(webhook_id=hook["id"], delivery_id=delivery["id"])
        body = {"enabled": False} if method == "PATCH" else None
        response = client.request(method, path, headers=theirs, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/webhooks", headers=theirs).json() == []
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=mine).json()["enabled"] is True
    assert _log(client, mine, hook["id"]) == [delivery]


def test_the_api_offers_the_events_the_sender_knows() -> None:
    assert get_args(WebhookEvent) == EVENTS
    assert set(EVENT_TYPES.values()) == set(EVENTS)


def test_a_batch_finished_event_is_delivered_with_its_data(
    client: TestClient, receiver: StubServer
) -> None:
    """What the batch feature writes to the `events` log when a batch ends."""
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook", events=["batch.finished"])
    owner = _owner(client, headers)
    _job(client, owner, "canceled")  # not subscribed: nothing
    batch = {"batch_id": str(uuid.uuid4()), "succeeded": 18, "failed": 2}
    with _platform(client).sessions() as session, session.begin():
        session.add(Event(user_id=owner.id, type="batch_finished", data=batch))
    _drain(_sender(client), lambda: receiver.count("POST", "/hook") == 1)
    body = _verified(hook["secret"], receiver.matching("POST", "/hook")[0])
    assert (body["type"], body["data"]) == ("batch.finished", batch)


def test_fan_out_waits_for_unsettled_events_and_never_skips_one(
    client: TestClient, receiver: StubServer
) -> None:
    """On PostgreSQL an id below one already read may still commit: fan-out stops at the first
    event younger than `settle_s`, even when later ids are older (clocks of other hosts)."""
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook", events=["batch.finished"])
    owner = _owner(client, headers)
    now = utcnow()
    ahead = now + timedelta(seconds=30)  # written by a host whose clock is ahead
    with _platform(client).sessions() as session, session.begin():
        session.add(Event(user_id=owner.id, type="batch_finished", data={"n": 1}, created_at=ahead))
        session.flush()  # ids in this order
        session.add(Event(user_id=owner.id, type="batch_finished", data={"n": 2}, created_at=now))
    platform = _platform(client)

    def sender(after_s: float) -> WebhookSender:
        return WebhookSender(
            platform.engine, platform.secret_box, allow_private=True, settle_s=60,
            clock=lambda: utcnow() + timedelta(seconds=after_s),
        )  # fmt: skip

    assert sender(61).fan_out() == 0  # the first is unsettled: the second waits behind it
    assert _log(client, headers, hook["id"]) == []
    assert sender(91).fan_out() == 2
    assert sorted(d["payload"]["data"]["n"] for d in _log(client, headers, hook["id"])) == [1, 2]


def test_a_slow_receiver_is_cut_off_at_the_timeout() -> None:
    def slow(request: Recorded, match: object) -> StubResponse:
        time.sleep(1.0)
        return StubResponse(200)

    with StubServer({("POST", r"/slow"): slow}) as stub:
        destination = check_url(stub.url + "/slow", allow_private=True)
        outcome = post(destination, b"{}", {}, timeout_s=0.2)
    assert outcome.status_code is None and not outcome.ok
    assert outcome.error is not None and "timed out" in outcome.error
    assert 150 <= outcome.duration_ms < 900


def test_old_finished_deliveries_leave_the_log_when_the_platform_prunes(
    client: TestClient, receiver: StubServer
) -> None:
    """Retention (`REELFORGE_RETENTION__WEBHOOK_DELIVERIES_DAYS`, 30): a finished delivery
    untouched that long is removed with its attempts; one attempted since (redelivered by hand)
    or still being retried stays."""
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    owner = _owner(client, headers)
    for _ in range(3):
        _job(client, owner, "canceled")
    sender = _sender(client)
    _drain(sender, lambda: receiver.count("POST", "/hook") >= 3)
    old, redelivered, retrying = (d["id"] for d in reversed(_log(client, headers, hook["id"])))
    long_ago = utcnow() - timedelta(days=31)
    platform = _platform(client)
    with platform.engine.begin() as conn:
        conn.execute(update(WebhookDelivery).values(created_at=long_ago))
        aged = WebhookAttempt.delivery_id.in_([uuid.UUID(old), uuid.UUID(retrying)])
        conn.execute(update(WebhookAttempt).where(aged).values(attempted_at=long_ago))
        pending = WebhookDelivery.id == uuid.UUID(retrying)
        conn.execute(update(WebhookDelivery).where(pending).values(state="pending"))

    assert platform.prune().webhook_deliveries == 1
    assert {d["id"] for d in _log(client, headers, hook["id"])} == {redelivered, retrying}
    with platform.sessions() as session:
        left = session.scalars(select(WebhookAttempt.delivery_id)).all()
    assert uuid.UUID(old) not in left
    assert platform.prune().webhook_deliveries == 0


def test_a_running_server_prunes_the_log_as_it_goes(
    client: TestClient, receiver: StubServer
) -> None:
    """A server that runs for weeks is not pruned by its start-up alone: the prune loop of a
    process that runs workers applies the retention every hour (here every 50 ms)."""
    headers = sign_up(client)
    hook = _register(client, headers, receiver.url + "/hook")
    _job(client, _owner(client, headers), "canceled")
    _drain(_sender(client), lambda: receiver.count("POST", "/hook") >= 1)
    long_ago = utcnow() - timedelta(days=31)
    with _platform(client).engine.begin() as conn:
        conn.execute(update(WebhookDelivery).values(created_at=long_ago))
        conn.execute(update(WebhookAttempt).values(attempted_at=long_ago))
    loop = PruneLoop(_platform(client).prune, interval_s=0.05)
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while _log(client, headers, hook["id"]):
            assert time.monotonic() < deadline, "the loop did not prune"
            time.sleep(0.05)
    finally:
        assert loop.stop(timeout_s=5)
