"""The parts of the connectors that need no server: credentials from the environment, routing by conversation id,
de-duplication, and the tracker check that keeps a retry from being answered twice after a restart."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.common import RecentIds, agent_prefixed
from channels.credentials import (
    SLACK_CLASS,
    TELEGRAM_CLASS,
    read_env_file,
    render_credentials,
    write_credentials,
)
from channels.slack import ShopCareSlackInput, conversation_id, route

ROOT = Path(__file__).resolve().parents[2]
REST_CLASS = "channels.rest.GuardedRestInput"  # the REST channel with its body checked (credentials.yml)
SOCKETIO_CLASS = "channels.socketio.ShopCareSocketIOInput"  # the widget's socket.io channel (credentials.yml)
BASE = yaml.safe_load((ROOT / "credentials.yml").read_text())


def test_without_secrets_only_rest_and_socketio_are_enabled():
    assert list(render_credentials(BASE, {})) == [REST_CLASS, SOCKETIO_CLASS]
    half = {"SLACK_BOT_TOKEN": "xoxb-1", "TELEGRAM_BOT_TOKEN": "1:abc", "SLACK_SIGNING_SECRET": "  "}
    assert list(render_credentials(BASE, half)) == [
        "rest",
        SOCKETIO_CLASS,
    ]  # a token without its secret enables nothing


def test_each_channel_is_enabled_by_its_own_secrets():
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3", "SLACK_API_URL": "http://127.0.0.1:9/api/"}
    rendered = render_credentials(BASE, env)
    assert rendered[SLACK_CLASS] == {
        "slack_token": "xoxb-1",
        "slack_signing_secret": "s3",
        "slack_api_url": "http://127.0.0.1:9/api/",
    }
    assert TELEGRAM_CLASS not in rendered
    env = {"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "t", "TELEGRAM_WEBHOOK_URL": "https://x/y"}
    rendered = render_credentials(BASE, env)
    assert rendered[TELEGRAM_CLASS] == {"access_token": "1:abc", "webhook_secret": "t", "webhook_url": "https://x/y"}
    assert SLACK_CLASS not in rendered


def test_the_written_file_is_private(tmp_path):
    out = write_credentials(
        ROOT / "credentials.yml",
        tmp_path / "credentials.yml",
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3"},
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert yaml.safe_load(out.read_text())[SLACK_CLASS]["slack_signing_secret"] == "s3"


@pytest.mark.parametrize(
    "user, channel, thread, target",
    [("U1", "D2", None, ("D2", None)), ("U1", "C2", "1700000000.000100", ("C2", "1700000000.000100"))],
)
def test_a_slack_conversation_id_carries_its_route(user, channel, thread, target):
    assert route(conversation_id(user, channel, thread)) == target
    assert route("U1") == ("U1", None)  # a bare user id: Slack posts to the app's DM with that user


def test_recent_ids_remember_within_the_window_and_stay_bounded():
    seen = RecentIds(ttl=3600, max_size=3)
    assert seen.add("a") and not seen.add("a")
    for key in "bcd":
        seen.add(key)
    assert "a" not in seen and "d" in seen
    assert RecentIds(ttl=-1).add("x")  # an expired id counts as new


def test_only_agent_messages_are_signed():
    assert agent_prefixed("Hi", {"from_agent": True, "agent": "Sam"}) == "Sam (ShopCare team): Hi"
    assert agent_prefixed("Hi", {"agent": "Sam"}) == "Hi"


async def test_a_retry_of_an_event_the_tracker_already_holds_is_recognised():
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker("U1_D2", slots=[])
    tracker.update(UserUttered("hello", metadata={"slack_event_id": "Ev1"}))
    await store.save(tracker)
    channel = ShopCareSlackInput("xoxb-1", slack_signing_secret="s3")
    request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))))
    assert await channel._answered_before(request, "U1_D2", "Ev1")
    assert not await channel._answered_before(request, "U1_D2", "Ev2")  # first delivery lost: handle the retry
    assert not await channel._answered_before(request, "U9_D9", "Ev1")


def test_env_file_values_are_read_like_env_example_writes_them(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "# comment\nSLACK_BOT_TOKEN=xoxb-9   # the bot token\nSLACK_SIGNING_SECRET='s 3'\nEMPTY=\nnot a line\n"
    )
    assert read_env_file(env) == {"SLACK_BOT_TOKEN": "xoxb-9", "SLACK_SIGNING_SECRET": "s 3", "EMPTY": ""}
    assert read_env_file(tmp_path / "missing") == {}
    example = read_env_file(ROOT / ".env.example")
    assert example["SLACK_BOT_TOKEN"] == "" and example["RASA_PORT"] == "5005"
    assert list(render_credentials(BASE, example)) == [REST_CLASS, SOCKETIO_CLASS]  # the example enables no channel
