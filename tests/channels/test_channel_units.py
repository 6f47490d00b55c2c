"""The parts of the connectors that need no Rasa server: credentials from the environment, client addresses, the
REST channel's checks (its blueprint on an in-process Sanic server), routing by conversation id, de-duplication,
and the tracker check that keeps a retry from being answered twice after a restart."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.common import RecentIds, agent_prefixed
from channels.credentials import (
    REST_CLASS,
    SLACK_CLASS,
    SOCKETIO_CLASS,
    TELEGRAM_CLASS,
    enabled_channels,
    read_env_file,
    render_credentials,
    write_credentials,
)
from channels.identity import CLIENT_KEY, client_address, stamp_client, trusted_proxies
from channels.rest import GuardedRestInput
from channels.slack import ShopCareSlackInput, conversation_id, route
from tests.channels.inprocess import Recorder, serve

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "credentials.yml").read_text())
DEV = {"CRM_ENV": "development"}


def test_in_development_without_secrets_only_rest_and_socketio_are_enabled():
    assert list(render_credentials(BASE, DEV)) == [REST_CLASS, SOCKETIO_CLASS]
    assert render_credentials(BASE, DEV)[REST_CLASS] is None  # no token: open
    half = DEV | {"SLACK_BOT_TOKEN": "xoxb-1", "TELEGRAM_BOT_TOKEN": "1:abc", "SLACK_SIGNING_SECRET": "  "}
    # a token without its secret enables nothing
    assert list(render_credentials(BASE, half)) == [REST_CLASS, SOCKETIO_CLASS]


@pytest.mark.parametrize("env", [{}, {"CRM_ENV": "production"}, {"CRM_ENV": "Development"}, {"CRM_ENV": "dev"}])
def test_outside_development_the_rest_channel_is_off_without_a_token(env):
    assert list(render_credentials(BASE, env)) == [SOCKETIO_CLASS]
    with_token = render_credentials(BASE, env | {"REST_CHANNEL_TOKEN": " t0ken "})
    assert list(with_token) == [REST_CLASS, SOCKETIO_CLASS] and with_token[REST_CLASS] == {"token": "t0ken"}


def test_the_checked_in_file_alone_has_no_rest_channel_and_cannot_force_one_in_production():
    assert REST_CLASS not in BASE  # what a launcher that does not render (the Docker image) serves
    assert list(render_credentials(BASE | {REST_CLASS: None}, {})) == [SOCKETIO_CLASS]


def test_a_rest_token_is_required_in_development_too_once_it_is_set():
    assert render_credentials(BASE, DEV | {"REST_CHANNEL_TOKEN": "t0ken"})[REST_CLASS] == {"token": "t0ken"}
    assert enabled_channels(render_credentials(BASE, DEV)) == ["rest", "socketio"]


def test_each_channel_is_enabled_by_its_own_secrets():
    env = DEV | {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3", "SLACK_API_URL": "http://127.0.0.1:9/api/"}
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


# ----------------------------------------------------------------------------- client addresses
LOOPBACK = trusted_proxies(None)


@pytest.mark.parametrize(
    "peer, forwarded, trusted, expected",
    [
        ("198.51.100.4", None, LOOPBACK, "198.51.100.4"),
        ("198.51.100.4", "203.0.113.9", LOOPBACK, "198.51.100.4"),  # an untrusted peer cannot name another client
        ("127.0.0.1", "203.0.113.9", LOOPBACK, "203.0.113.9"),  # the local proxy's word is taken
        ("::1", "2001:db8::7", LOOPBACK, "2001:db8::7"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.9", LOOPBACK, "203.0.113.9"),  # the client cannot prepend a hop
        ("127.0.0.1", "203.0.113.9, 10.0.0.2", trusted_proxies("127.0.0.1,10.0.0.0/8"), "203.0.113.9"),
        ("127.0.0.1", "not-an-address", LOOPBACK, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", trusted_proxies("10.0.0.0/8"), "127.0.0.1"),
    ],
)
def test_client_address_believes_x_forwarded_for_only_from_a_trusted_proxy(peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected


def test_trusted_proxies_default_to_loopback_and_refuse_what_is_no_address():
    assert LOOPBACK == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1"))
    with pytest.raises(ValueError, match="SOCKETIO_TRUSTED_PROXIES"):
        trusted_proxies("10.0.0.1, proxy.internal")


def test_the_client_record_overwrites_what_the_client_sent_under_its_key():
    sent = {CLIENT_KEY: {"channel": "telegram", "address": "10.9.9.9"}, "identityToken": "t"}
    assert stamp_client(sent, "socketio", "203.0.113.9") == {
        CLIENT_KEY: {"channel": "socketio", "address": "203.0.113.9"},
        "identityToken": "t",
    }
    assert sent[CLIENT_KEY]["channel"] == "telegram"  # the client's object itself is not changed
    assert stamp_client(None, "rest", "127.0.0.1") == {CLIENT_KEY: {"channel": "rest", "address": "127.0.0.1"}}


# ----------------------------------------------------------------------------- the REST channel, in process
async def test_rest_senders_live_in_their_own_namespace_and_channel():
    recorder = Recorder()
    async with serve(GuardedRestInput(), recorder) as url, httpx.AsyncClient(base_url=url) as client:
        body = {"sender": "42", "message": "hi", "input_channel": "telegram", "metadata": {CLIENT_KEY: "me", "k": 1}}
        answer = await client.post("/webhooks/rest/webhook", json=body, headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 200 and answer.json() == [{"recipient_id": "rest:42", "text": "got hi"}]
    [message] = recorder.messages
    assert (message.sender_id, message.input_channel) == ("rest:42", "rest")
    # a REST caller acts for many customers: no address for the identity limits, and none the body can claim
    assert message.metadata == {CLIENT_KEY: {"channel": "rest", "address": None}, "k": 1}


@pytest.mark.parametrize(
    "sender",
    ["", "a b", "x/y", "é", "ünïcode", "a\n", "rest:x", "x" * 65, "x" * 200, 7, None, ["a"]],
)
async def test_rest_senders_outside_1_to_64_plain_characters_are_refused(sender):
    recorder = Recorder()
    async with serve(GuardedRestInput(), recorder) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hi"})
    assert answer.status_code == 400 and "1-64 characters" in answer.text
    assert recorder.messages == []


async def test_rest_senders_of_64_plain_characters_are_taken():
    recorder = Recorder()
    sender = "Az09._@-" * 8
    async with serve(GuardedRestInput(), recorder) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hi"})
    assert answer.status_code == 200 and recorder.messages[0].sender_id == f"rest:{sender}"


async def test_with_a_token_every_rest_request_needs_it():
    recorder = Recorder()
    channel = GuardedRestInput.from_credentials({"token": "s3cret-token"})
    body = {"sender": "alice", "message": "hi"}
    async with serve(channel, recorder) as url, httpx.AsyncClient(base_url=url) as client:
        refused = [
            await client.post("/webhooks/rest/webhook", json=body),
            await client.post("/webhooks/rest/webhook", json=body, headers={"Authorization": "Bearer wrong"}),
            await client.post("/webhooks/rest/webhook", json=body, headers={"Authorization": "s3cret-token"}),
            await client.post("/webhooks/rest/webhook", json=body, headers={"Authorization": "Basic s3cret-token"}),
            await client.get("/webhooks/rest/"),
        ]
        taken = await client.post("/webhooks/rest/webhook", json=body, headers={"Authorization": "Bearer s3cret-token"})
    assert [r.status_code for r in refused] == [401] * 5
    assert refused[0].headers["www-authenticate"] == "Bearer" and refused[0].json()["error"] == "unauthorized"
    assert taken.status_code == 200 and [m.sender_id for m in recorder.messages] == ["rest:alice"]
