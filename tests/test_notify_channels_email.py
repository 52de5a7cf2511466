"""EmailSender against a real SMTP server on 127.0.0.1 (aiosmtpd): STARTTLS with a CA made
here, AUTH, implicit TLS, the received message's headers and bodies in English and Russian,
and how each failure is classified (550 fatal, 4xx and a dropped connection retried)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.notify_email import EmailSender, message_id
from plugin.errors import AuthError, FatalError, RetriableError
from plugin.service.http import free_port
from tests.test_notify_channels_support import EN, KEY, RU, notification

HOST = "127.0.0.1"
USER = "relay@northwind.example"
PASSWORD = "s3cret-relay-pass"
FROM = "learning@northwind.example"
NOW = 1_767_225_600.0


# --- a CA and a server certificate for 127.0.0.1 / localhost -------------------------------


@dataclass(frozen=True)
class Tls:
    ca_file: str
    server: ssl.SSLContext


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("tls")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("skillrelay test CA"))
        .issuer_name(_name("skillrelay test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return Tls(str(ca_file), server)


# --- the server -----------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps what it accepts and answers as told."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.sessions: list[tuple[bool, bool]] = []  # (over TLS, authenticated) per message
        self.logins: list[bytes] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.drop_at_data = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop_at_data:
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()  # the connection is cut before any reply
            return "250 never sent"
        if self.data_reply is not None:
            return self.data_reply
        self.received.append(envelope)
        assert server.transport is not None
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((tls, bool(session.authenticated)))
        return "250 2.0.0 Ok: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login)
        ok = data.login == USER.encode() and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # the server answers 235 / 535

    def message(self, index: int = -1) -> EmailMessage:
        content = self.received[index].content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@contextmanager
def smtp_server(inbox: Inbox, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def submission(inbox: Inbox, tls: Tls) -> Iterator[int]:
    """A submission server: STARTTLS required, then AUTH required."""
    with smtp_server(
        inbox,
        tls_context=tls.server,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_required=True,
        auth_require_tls=True,
    ) as port:
        yield port


def sender(port: int, tls: Tls | None = None, **changes: Any) -> EmailSender:
    options: dict[str, Any] = {
        "security": "starttls",
        "from_address": FROM,
        "from_name": "Northwind Learning",
        "username": USER,
        "password": PASSWORD,
        "ca_file": tls.ca_file if tls else None,
        "timeout": 5.0,
        "clock": lambda: NOW,
    }
    options.update(changes)
    return EmailSender(HOST, port, **options)


# --- what arrives ---------------------------------------------------------------------------


@pytest.mark.parametrize("base", [EN, RU], ids=["en", "ru"])
def test_starttls_auth_delivers_headers_and_both_bodies(
    inbox: Inbox, submission: int, tls: Tls, base: dict[str, Any]
) -> None:
    sender(submission, tls).send(notification("email", base=base))

    [envelope] = inbox.received
    assert inbox.sessions == [(True, True)]  # over TLS, logged in
    assert inbox.logins == [USER.encode()]
    assert envelope.mail_from == FROM
    assert envelope.rcpt_tos == [base["to"]["email"]]
    raw = envelope.content
    assert isinstance(raw, bytes)
    raw.decode("ascii")  # 7-bit clean: any server takes it, 8BITMIME or not
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))

    msg = inbox.message()
    assert msg["Subject"] == base["subject"]
    assert msg["From"] == f"Northwind Learning <{FROM}>"
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == (base["to"]["name"], base["to"]["email"])
    assert msg["Message-ID"] == message_id(KEY, "northwind.example")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Language"] == base["lang"]
    assert msg["List-Unsubscribe"] == "<https://relay.example/unsubscribe/tok-123>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Date"] == "Thu, 01 Jan 2026 00:00:00 +0000"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8"
    # Text parts travel with CRLF line ends (MIME's canonical form).
    assert plain.get_content().replace("\r\n", "\n") == base["text"] + "\n"
    assert html.get_content().replace("\r\n", "\n") == base["html"] + "\n"


def test_russian_subject_and_name_are_encoded_words_on_the_wire(
    inbox: Inbox, submission: int, tls: Tls
) -> None:
    sender(submission, tls).send(notification("email", base=RU))
    raw = inbox.received[0].content
    assert isinstance(raw, bytes)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "Subject: =?utf-8?" in head
    assert "Ольга" not in head  # only as RFC 2047 encoded words
    assert inbox.message()["To"] == "Ольга Иванова <olga@x.example>"


def test_the_same_effect_sent_again_has_the_same_message_id(
    inbox: Inbox, submission: int, tls: Tls
) -> None:
    mail = sender(submission, tls)
    mail.send(notification("email"))
    mail.send(notification("email"))
    mail.send(notification("email", key="notify:42:awarded:ben.carter"))
    ids = [inbox.message(i)["Message-ID"] for i in range(3)]
    assert ids[0] == ids[1] != ids[2]
    assert ids[2] == message_id("notify:42:awarded:ben.carter", "northwind.example")


def test_no_unsubscribe_url_no_list_headers_and_one_line_subject(
    inbox: Inbox, submission: int, tls: Tls
) -> None:
    effect = notification(
        "email", unsubscribe_url=None, subject="Reward\r\nBcc: someone@else.example"
    )
    sender(submission, tls).send(effect)
    msg = inbox.message()
    assert "List-Unsubscribe" not in msg
    assert "List-Unsubscribe-Post" not in msg
    assert msg["Subject"] == "Reward Bcc: someone@else.example"
    assert "Bcc" not in msg
    assert inbox.received[0].rcpt_tos == ["ben@x.example"]


def test_implicit_tls(inbox: Inbox, tls: Tls) -> None:
    with smtp_server(
        inbox, ssl_context=tls.server, authenticator=inbox.authenticate, auth_require_tls=False
    ) as port:
        sender(port, tls, security="ssl").send(notification("email", base=RU))
    assert inbox.sessions == [(True, True)]
    assert inbox.message()["Subject"] == RU["subject"]


def test_plain_relay_on_loopback_without_credentials(inbox: Inbox) -> None:
    with smtp_server(inbox) as port:
        sender(port, security="none", username=None, password=None).send(notification("email"))
    assert inbox.sessions == [(False, False)]
    assert inbox.logins == []


# --- failures -------------------------------------------------------------------------------


def test_550_mailbox_unavailable_is_fatal_with_the_reason(
    inbox: Inbox, submission: int, tls: Tls
) -> None:
    inbox.rcpt_reply = "550 5.1.1 <ben@x.example>: Recipient address rejected: User unknown"
    with pytest.raises(FatalError) as caught:
        sender(submission, tls).send(notification("email"))
    assert not isinstance(caught.value, (RetriableError, AuthError))
    message = str(caught.value)
    assert "refused the recipient: 550 5.1.1" in message
    assert "User unknown" in message
    assert "ben@x.example" not in message  # the address is masked
    assert inbox.received == []


def test_4xx_recipient_reply_is_retried(inbox: Inbox, submission: int, tls: Tls) -> None:
    inbox.rcpt_reply = "450 4.2.1 Mailbox busy, try again later"
    with pytest.raises(RetriableError, match=re.escape("450 4.2.1")):
        sender(submission, tls).send(notification("email"))


def test_554_for_the_message_is_fatal(inbox: Inbox, submission: int, tls: Tls) -> None:
    inbox.data_reply = "554 5.7.1 Message rejected as spam"
    with pytest.raises(FatalError, match=re.escape("refused the message: 554 5.7.1")) as caught:
        sender(submission, tls).send(notification("email"))
    assert not isinstance(caught.value, (RetriableError, AuthError))


def test_dropped_connection_is_retried(inbox: Inbox, submission: int, tls: Tls) -> None:
    inbox.drop_at_data = True
    with pytest.raises(RetriableError, match="Connection unexpectedly closed"):
        sender(submission, tls).send(notification("email"))
    assert inbox.received == []


def test_nothing_listening_is_retried() -> None:
    with pytest.raises(RetriableError, match="ConnectionRefusedError"):
        sender(free_port(), security="none", username=None, password=None).send(
            notification("email")
        )


def test_silent_server_times_out_and_is_retried() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never greets
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        mail = sender(port, security="none", username=None, password=None, timeout=0.3)
        with pytest.raises(RetriableError, match="timed out"):
            mail.send(notification("email"))


def test_wrong_password_is_an_auth_error_without_the_password(
    inbox: Inbox, submission: int, tls: Tls
) -> None:
    with pytest.raises(AuthError) as caught:
        sender(submission, tls, password="not-the-password").send(notification("email"))
    assert "535" in str(caught.value)
    assert "not-the-password" not in str(caught.value)
    assert inbox.received == []


def test_untrusted_certificate_is_an_auth_error(inbox: Inbox, submission: int) -> None:
    with pytest.raises(AuthError, match=re.escape("certificate of 127.0.0.1 is not trusted")):
        sender(submission, None).send(notification("email"))  # the system's CAs only
    assert inbox.received == []


def test_server_without_starttls_is_an_auth_error(inbox: Inbox) -> None:
    with (
        smtp_server(inbox) as port,
        pytest.raises(AuthError, match="STARTTLS extension not supported"),
    ):
        sender(port, username=None, password=None).send(notification("email"))
    assert inbox.received == []


def test_person_without_email_is_fatal_before_connecting() -> None:
    mail = sender(free_port(), security="none", username=None, password=None)
    with pytest.raises(FatalError, match=re.escape("person ben.carter has no e-mail address")):
        mail.send(notification("email", to={"email": None}))
    with pytest.raises(FatalError, match="e-mail address that is not usable"):
        mail.send(notification("email", to={"email": "not an address"}))


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["mail.northwind.example", "10.0.0.5", "127.0.0.2.example"])
def test_security_none_only_to_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="clear text"):
        EmailSender(host, 25, security="none", from_address=FROM)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_security_none_allowed_to_loopback(host: str) -> None:
    assert EmailSender(host, security="none", from_address=FROM).port == 25


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"security": "tls"}, "must be one of starttls, ssl, none"),
        ({"username": "relay"}, "username and password go together"),
        ({"from_address": "not an address"}, "from address"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_configuration_is_refused(changes: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"from_address": FROM, **changes}
    with pytest.raises(ValueError, match=message):
        EmailSender("smtp.northwind.example", **options)


def test_default_ports() -> None:
    assert EmailSender("smtp.example", from_address=FROM).port == 587
    assert EmailSender("smtp.example", security="ssl", from_address=FROM).port == 465


def test_ca_file_is_read(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        EmailSender("smtp.example", from_address=FROM, ca_file=str(tmp_path / "missing.pem"))
