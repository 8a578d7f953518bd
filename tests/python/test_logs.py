"""``client.logs``: Okta's System Log, listed (bounded) and followed (polling), blocking and
asyncio, against the simulator's log (which shows an event 300 ms after Okta made it)."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from okta_lifecycle import AsyncOktaClient, InvalidInputError, LogEvents, OktaClient
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from conftest import EitherClient

pytestmark = pytest.mark.okta_simulator(seed_users=0)

CREATE = 'eventType eq "user.lifecycle.create"'


def profile(login: str) -> dict[str, Any]:
    return {"login": login, "email": login, "firstName": "Log", "lastName": "Reader"}


def test_listing_reads_the_events_of_each_change_with_filters_and_order(either_client: EitherClient) -> None:
    c = either_client
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    ada = c.users.create(profile("ada@acme.com"))
    c.users.create(profile("grace@acme.com"))
    group = c.groups.create("eng")
    c.groups.add_member(group, ada)
    time.sleep(0.5)  # the log is near real time, not immediate

    created = c.logs.list(since=start, filter=CREATE)
    assert [e["target"][0]["alternateId"] for e in created] == ["ada@acme.com", "grace@acme.com"]
    assert all(e["outcome"]["result"] == "SUCCESS" and e["uuid"] for e in created)
    newest_first = c.logs.list(since=start, filter=CREATE, descending=True)
    assert [e["uuid"] for e in newest_first] == [e["uuid"] for e in reversed(created)]
    about_ada = c.logs.list(since=start, filter=f'target.id eq "{ada.id}"')
    assert {e["eventType"] for e in about_ada} >= {"user.lifecycle.create", "group.user_membership.add"}
    # Pages of one event still list every event.
    assert len(c.logs.list(since=start, limit=1)) == len(c.logs.list(since=start))
    # Nothing after the window.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    assert c.logs.list(since=later, until=later + datetime.timedelta(minutes=1)) == []
    with pytest.raises(InvalidInputError, match="limit"):
        c.logs.list(limit=1001)
    with pytest.raises(InvalidInputError, match="after until"):
        c.logs.list(since=later, until=start)


def test_following_yields_new_events_as_they_appear_and_close_ends_it(okta_client: OktaClient) -> None:
    feed = okta_client.logs.follow(filter=CREATE, interval=0.05)
    assert isinstance(feed, LogEvents)

    def hire() -> None:
        for n in range(3):
            time.sleep(0.1)
            okta_client.users.create(profile(f"joiner{n}@acme.com"))

    threading.Thread(target=hire).start()
    seen = [next(feed)["target"][0]["alternateId"] for _ in range(3)]
    assert seen == ["joiner0@acme.com", "joiner1@acme.com", "joiner2@acme.com"]

    # Waiting for an event that never comes, it ends when closed from another thread.
    threading.Timer(0.3, feed.close).start()
    began = time.monotonic()
    assert list(feed) == []
    assert time.monotonic() - began < 5
    assert next(feed, None) is None  # and stays ended


def test_following_asynchronously_and_cancelling(
    okta_simulator: OktaSimulator, async_okta_client: AsyncOktaClient
) -> None:
    async def main() -> list[str]:
        feed = async_okta_client.logs.follow(filter=CREATE, interval=0.05)
        await async_okta_client.users.create(profile("async@acme.com"))
        seen = []
        async for event in feed:
            seen.append(event["target"][0]["alternateId"])
            break
        # A task waiting on the feed is cancelled like any other.
        waiting = asyncio.ensure_future(feed.__anext__())
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        feed.close()
        return seen

    assert asyncio.run(main()) == ["async@acme.com"]


def test_a_feed_needs_a_positive_interval(okta_client: OktaClient) -> None:
    for interval in (0.0, -1.0, float("nan")):
        with pytest.raises(InvalidInputError, match="interval"):
            okta_client.logs.follow(interval=interval)


@pytest.mark.okta_simulator(seed_users=0, log_delay_seconds=1.0)
def test_an_event_shows_only_after_the_log_delay(okta_simulator: OktaSimulator, okta_client: OktaClient) -> None:
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    okta_client.users.create(profile("late@acme.com"))
    # Created and activated (Okta logs both), written but not yet visible.
    written = [e["eventType"] for e in okta_simulator.log_events()]
    assert written == ["user.lifecycle.create", "user.lifecycle.activate"]
    assert list(okta_client.logs.list(since=start)) == []
    time.sleep(1.2)
    assert [e["eventType"] for e in okta_client.logs.list(since=start)] == written


def test_identity_changes_come_from_the_log_with_who_made_them_deletions_included(
    either_client: EitherClient, okta_simulator: OktaSimulator
) -> None:
    c = either_client
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    ada = c.users.create({**profile("ada@acme.com"), "department": "Eng"})
    c.actions.source_of_identity(mover_attributes=["department"])  # the journal sees Ada's department
    c.users.update(ada, {"department": "Sales"})
    gone = c.users.create(profile("gone@acme.com"))
    c.users.deactivate(gone)
    c.users.delete(gone)
    time.sleep(0.5)

    changes = c.actions.identity_changes(since=since, mover_attributes=["department"])
    assert [(change.event, change.login) for change in changes] == [
        ("joiner", "ada@acme.com"),
        ("mover", "ada@acme.com"),
        ("joiner", "gone@acme.com"),
        ("leaver", "gone@acme.com"),
        ("deleted", "gone@acme.com"),
    ]
    mover, deleted = changes[1], changes[-1]
    assert mover.moved == [{"attribute": "department", "before": "Eng", "after": "Sales"}]
    assert mover.user is not None and mover.user.profile["department"] == "Sales"
    assert deleted.user is None and deleted.record["status"] == "DELETED" and deleted.user_id == gone.id
    assert all(change.actor and change.actor["type"] == "User" for change in changes)
    assert changes[0].published.tzinfo is not None and changes[0].uuid
    assert c.actions.identity_changes(since=changes[-1].published + datetime.timedelta(milliseconds=1)) == []
    with pytest.raises(InvalidInputError, match="earlier"):
        c.actions.identity_changes(since=since, until=since - datetime.timedelta(hours=1))
