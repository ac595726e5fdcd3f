"""A real SMTP server (aiosmtpd) in the test process and Django's SMTP backend pointed at it:
the mail tests of alerts and of invitations and password resets use these fixtures."""

import email
import logging
import socket
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def with_subject(self, word: str) -> list:
        return [m for m in self.messages if word in str(m["Subject"])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    """A real SMTP server on a fixed port that can be started late (to test retries)."""

    def __init__(self, port: int):
        self.port = port
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> Mailbox:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self.mailbox

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(settings):
    """Django's SMTP backend pointed at a free port; the server is not started yet."""
    server = SMTPServer(free_port())
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.ALERTS_SMTP_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "conflictwatch@example.com"
    settings.CONFLICTWATCH_BASE_URL = "https://cw.example.com"
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    """A running SMTP server's received mail."""
    return smtp_server.start()
