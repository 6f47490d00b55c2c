"""Loopback stand-ins for outside services the tests cannot run (Slack's Web API, Telegram's Bot API)."""
