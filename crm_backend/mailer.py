"""Outgoing e-mail over SMTP: ``Mailer.from_settings(settings).send(to, subject, text)``.

``send`` hands one plain-text message for one address to the configured SMTP server (STARTTLS and a login when
configured) within ``smtp_timeout_seconds``, or raises ``MailError``, whatever went wrong: an invalid address, an
unreachable, slow or refusing server, a failed TLS handshake or login. Error texts never contain the address or the
message. A login is refused at construction without STARTTLS unless the server is on loopback.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from crm_backend.settings import Settings
from shopcare_core.net import is_loopback


class MailError(Exception):
    """A message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.user and not self.starttls and not is_loopback(self.host):
            raise ValueError(
                f"CRM_SMTP_USER is set for {self.host}, which is not on loopback, without CRM_SMTP_STARTTLS: "
                "the password would cross the network unencrypted"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    def message(self, to: str, subject: str, text: str) -> EmailMessage:
        """The message ``send`` sends; ValueError on an address that is not exactly one addr-spec or a header with a
        line break."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = Address(addr_spec=to.strip())
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2] or "localhost")
        message.set_content(text)
        return message

    def send(self, to: str, subject: str, text: str) -> None:
        try:
            message = self.message(to, subject, text)
        except ValueError as error:
            raise MailError(f"invalid message: {type(error).__name__}") from None
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            raise MailError(f"{self.host}:{self.port} refused the message ({error.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as error:  # OSError: unreachable, timed out, TLS handshake
            raise MailError(f"could not send through {self.host}:{self.port} ({type(error).__name__})") from None
