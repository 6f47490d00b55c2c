"""Development mail sink: an SMTP server on loopback that keeps the mail it receives for developers to read.

    python -m crm_backend.mailsink --host 127.0.0.1 --port 8025 --store var/dev_mail.jsonl

It listens on a loopback address only (any other ``--host`` is refused), accepts any sender and recipient, refuses a
message over 256 KB (552), and appends each message as one JSON line ``{to, subject, text, sent_at}`` to the store.
The store keeps the last 1,000 messages at most: every 500 it moves to ``<store>.1``, replacing the one before.
``read_outbox`` reads it newest first for ``GET /dev/outbox`` and the console's Dev outbox page (development only).
A relative ``--store`` is relative to the repo root, like ``CRM_DEV_MAIL_STORE``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_backend.settings import REPO_ROOT
from shopcare_core.net import is_loopback

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

MAX_MESSAGE_BYTES = 256 * 1024
KEEP_MESSAGES = 1000
SEGMENT_MESSAGES = KEEP_MESSAGES // 2  # the store and <store>.1 together hold at most KEEP_MESSAGES
OUTBOX_LIMIT = 50
FIELDS = ("to", "subject", "text", "sent_at")


class MailStore:
    """The JSON-lines file of received mail and its one older segment. One writer (the sink); readers anywhere."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.older = self.path.with_name(self.path.name + ".1")
        self._lock = threading.Lock()
        self._count: int | None = None  # lines in self.path, counted on the first append

    def append(self, mail: dict[str, str]) -> None:
        line = json.dumps({key: mail[key] for key in FIELDS}) + "\n"  # ASCII: no character splits the line
        with self._lock:
            if self._count is None:
                self._count = len(_lines(self.path))
            if self._count >= SEGMENT_MESSAGES:
                os.replace(self.path, self.older)
                self._count = 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
            self._count += 1

    def read(self) -> list[dict[str, str]]:
        """Every stored mail, oldest first; lines that are not a whole record are skipped."""
        mails = []
        for line in _lines(self.older) + _lines(self.path):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and all(isinstance(record.get(key), str) for key in FIELDS):
                mails.append({key: record[key] for key in FIELDS})
        return mails


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").split("\n")[:-1]
    except FileNotFoundError:
        return []


def read_outbox(path: Path | str, *, to: str | None = None, limit: int = OUTBOX_LIMIT) -> list[dict[str, str]]:
    """The stored mails newest first, at most ``limit``; with ``to``, only those sent to that address (any case)."""
    wanted = to.strip().casefold() if to else None
    found = []
    for mail in reversed(MailStore(path).read()):
        if wanted is None or wanted in {address.strip().casefold() for address in mail["to"].split(",")}:
            found.append(mail)
            if len(found) >= limit:
                break
    return found


def parse_mail(content: bytes, recipients: list[str], received_at: datetime) -> dict[str, str]:
    """The stored record of one message: envelope recipients, decoded subject, the plain-text body (else HTML) with
    \n line ends and without the one final line end SMTP adds, so ``text`` is what ``Mailer.send`` was given."""
    message = BytesParser(policy=policy.default).parsebytes(content)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        text = str(body.get_content()) if body is not None else ""
    except (LookupError, ValueError):  # an unknown charset or a broken part: the raw message, readable
        text = content.decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n")
    return {
        "to": ", ".join(recipients),
        "subject": str(message.get("subject", "")),
        "text": text[:-1] if text.endswith("\n") else text,
        "sent_at": received_at.isoformat(timespec="seconds"),
    }


class SinkHandler:
    """aiosmtpd handler: stores each message (the server's data_size_limit refuses larger ones before this)."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or b""
        if len(content) > MAX_MESSAGE_BYTES:
            return "552 Message exceeds the 256 KB limit of the development mail sink"
        self.store.append(parse_mail(content, list(envelope.rcpt_tos), datetime.now(timezone.utc)))
        return "250 Message stored"


def controller(store: MailStore, host: str, port: int) -> Controller:
    """The sink's SMTP server (not started): ``.start()`` serves it from a thread, ``.stop()`` ends it."""
    from aiosmtpd.controller import Controller

    if not is_loopback(host):
        raise ValueError(f"the development mail sink listens on loopback only, not on {host!r}")
    return Controller(
        SinkHandler(store),
        hostname=host,
        port=port,
        server_hostname="shopcare-dev-mailsink",
        data_size_limit=MAX_MESSAGE_BYTES,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Development mail sink: stores received mail as JSON lines.")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--store", default="var/dev_mail.jsonl")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address (127.0.0.1, ::1, localhost), not {args.host!r}")
    store = Path(args.store) if Path(args.store).is_absolute() else REPO_ROOT / args.store
    sink = controller(MailStore(store), args.host, args.port)
    try:
        sink.start()
    except OSError as error:
        print(f"[mailsink] cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr, flush=True)
        return 1
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"[mailsink] listening on {args.host}:{args.port}, storing mail in {store}", flush=True)
    stopping.wait()
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
