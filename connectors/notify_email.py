"""Learner notifications by e-mail over SMTP (outbox target "email").

One message per effect: multipart/alternative (the plain text, then the HTML), with
- Message-ID derived from the effect's idempotency key, so a message sent again after a
  lost reply carries the same id and a mail client or archive can recognise the repeat
  (SMTP has no way to ask whether a message was already accepted);
- Auto-Submitted: auto-generated (RFC 3834: no vacation replies), Content-Language;
- List-Unsubscribe / List-Unsubscribe-Post (RFC 8058 one-click) when the payload has an
  unsubscribe URL.

`security` is "starttls" (port 587 unless given), "ssl" (implicit TLS, port 465) or "none"
(port 25), the last only to a mail relay on this machine: credentials and learners' mail
would otherwise cross the network in clear text. Certificates are verified against the
system's trust store, or `ca_file`.

Outcomes: delivered when the server accepts the DATA. Connection errors, time-outs, a dropped
connection and 4xx replies are RetriableError (the outbox tries again later); a 5xx reply to
the recipient or the message (550 mailbox unavailable, 554 rejected) and a person without an
e-mail address are FatalError; refused credentials, a missing STARTTLS or AUTH, an untrusted
certificate and a refused sender address are AuthError (an admin must act; the worker pauses
the target). Reasons give the reply code and the server's words with addresses masked; the
message itself never appears in an error or a log.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import Literal, get_args

from connectors.notify_message import Notification
from plugin.effects import Effect
from plugin.errors import AuthError, FatalError, RetriableError
from plugin.logs import register_secret

log = logging.getLogger("skillrelay.email")

SERVICE = "email"
Security = Literal["starttls", "ssl", "none"]
SECURITY: tuple[str, ...] = get_args(Security)
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
LOOPBACK = ("localhost", "127.0.0.1", "::1")
# 7bit: every part is quoted-printable or base64, so any server takes it (8BITMIME or not).
POLICY = SMTP_POLICY.clone(cte_type="7bit")
MAX_REPLY = 200
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


def message_id(key: str, domain: str) -> str:
    """The Message-ID of the effect `key`: the same for every attempt, unique per key."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<skillrelay.{digest}@{domain}>"


class EmailSender:
    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        from_address: str,
        from_name: str | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ca_file: str | None = None,
        local_hostname: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if security not in SECURITY:
            raise ValueError(
                f"email security must be one of {', '.join(SECURITY)}, not {security!r}"
            )
        if not host or any(c.isspace() for c in host):
            raise ValueError(f"email host {host!r} is not a host name")
        if security == "none" and host.strip("[]").lower() not in LOOPBACK:
            raise ValueError(
                f"email security 'none' sends mail and credentials to {host} in clear text; "
                "it is allowed only to a relay on this machine (localhost, 127.0.0.1, ::1): "
                "use 'starttls' or 'ssl'"
            )
        if (username is None) != (password is None) or username == "" or password == "":
            raise ValueError("email username and password go together: give both or neither")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"email port {port} is not a TCP port")
        if timeout <= 0:
            raise ValueError("email timeout must be more than 0 seconds")
        try:
            sender = Address(display_name=from_name or "", addr_spec=from_address)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"email from address {from_address!r} is not an address") from exc
        if not sender.domain:
            raise ValueError(f"email from address {from_address!r} has no domain")
        register_secret(password)
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self._password = password
        self.sender = sender
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.clock = clock
        self._context: ssl.SSLContext | None = None
        if security != "none":
            self._context = ssl.create_default_context(cafile=ca_file)

    # --- the message ------------------------------------------------------------------------

    def message(self, effect: Effect) -> EmailMessage:
        """The e-mail `effect` sends (FatalError when the payload or its recipient cannot)."""
        note = Notification.read(effect, SERVICE)
        if note.to.email is None:
            raise FatalError(
                SERVICE,
                f"person {note.person} has no e-mail address; add `email` to the person in "
                f"the manifest or turn e-mail off for them (notification {note.key})",
            )
        try:
            recipient = Address(display_name=_one_line(note.to.name), addr_spec=note.to.email)
        except (ValueError, IndexError):
            recipient = None
        if recipient is None or not recipient.domain or not recipient.username:
            raise FatalError(
                SERVICE, f"person {note.person} has an e-mail address that is not usable"
            )
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self.sender
        msg["To"] = recipient
        msg["Subject"] = _one_line(note.subject)
        msg["Date"] = format_datetime(datetime.fromtimestamp(self.clock(), UTC))
        msg["Message-ID"] = message_id(note.key, self.sender.domain)
        msg["Auto-Submitted"] = "auto-generated"
        if note.unsubscribe_url is not None:
            msg["List-Unsubscribe"] = f"<{note.unsubscribe_url}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(_lines(note.text))
        msg.add_alternative(_lines(note.html), subtype="html")
        # After the parts: making the message multipart moves Content-* headers into them.
        msg["Content-Language"] = note.lang
        return msg

    # --- sending ----------------------------------------------------------------------------

    def send(self, effect: Effect) -> None:
        msg = self.message(effect)
        recipient = msg["To"].addresses[0].addr_spec
        try:
            self._deliver(msg, recipient)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise self._refused(code, reply, "the recipient", FatalError) from None
        except smtplib.SMTPSenderRefused as exc:
            raise self._refused(exc.smtp_code, exc.smtp_error, "the sender", AuthError) from None
        except smtplib.SMTPDataError as exc:
            raise self._refused(exc.smtp_code, exc.smtp_error, "the message", FatalError) from None
        except smtplib.SMTPAuthenticationError as exc:  # 535 (454: try again later)
            what = f"the login of {self.username} (check the username and password)"
            raise self._refused(exc.smtp_code, exc.smtp_error, what, AuthError) from None
        except smtplib.SMTPNotSupportedError as exc:
            if "SMTPUTF8" in str(exc):  # this recipient's address, not the configuration
                raise FatalError(
                    SERVICE, f"{self.host} cannot take an internationalised address: {exc}"
                ) from None
            raise AuthError(
                SERVICE, f"{self.host}: {exc}; check `security` and the port ({self.port})"
            ) from None
        except smtplib.SMTPResponseException as exc:  # greeting, HELO, other commands
            raise self._refused(exc.smtp_code, exc.smtp_error, "the session", FatalError) from None
        except ssl.SSLCertVerificationError as exc:
            raise AuthError(
                SERVICE,
                f"the TLS certificate of {self.host} is not trusted ({exc.verify_message}); "
                "fix the server's certificate or set the CA file",
            ) from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            raise RetriableError(SERVICE, f"{self.host}: connection dropped during TLS") from None
        except ssl.SSLError as exc:
            raise AuthError(
                SERVICE,
                f"TLS with {self.host}:{self.port} failed ({exc.reason or type(exc).__name__}); "
                f"check `security` ({self.security}) and the port",
            ) from None
        except smtplib.SMTPServerDisconnected as exc:  # smtplib's words: "... closed: timed out"
            raise RetriableError(SERVICE, f"{self.host}:{self.port}: {exc}") from None
        except smtplib.SMTPException as exc:  # smtplib's own words ("No suitable auth...")
            raise AuthError(
                SERVICE, f"{self.host}: {exc}; check `security`, the port and the credentials"
            ) from None
        except OSError as exc:  # refused, reset, unreachable, time-out
            raise RetriableError(
                SERVICE, f"{self.host}:{self.port}: connection failed: {type(exc).__name__}"
            ) from None

    def _deliver(self, msg: EmailMessage, recipient: str) -> None:
        smtp = self._connect()
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._context)
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            smtp.send_message(msg, from_addr=self.sender.addr_spec, to_addrs=[recipient])
        except BaseException:
            smtp.close()
            raise
        # Accepted: a failing QUIT must not make the message look undelivered.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
        log.info("email: sent %s", msg["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context,
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )

    def _refused(
        self, code: int, reply: bytes | str, what: str, permanent: type[FatalError]
    ) -> FatalError | RetriableError:
        """4xx: try again later; 5xx: `permanent` (FatalError, or AuthError when an admin
        must change the configuration); anything else is a broken conversation: retried."""
        why = f"{self.host} refused {what}: {_reply(code, reply)}"
        if 500 <= code < 600:
            return permanent(SERVICE, why)
        return RetriableError(SERVICE, why)


def _reply(code: int, reply: bytes | str) -> str:
    """`550 5.1.1 ...`: the server's words on one line, addresses masked, capped."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = _ADDRESS.sub("<address>", " ".join(text.split()))
    if len(text) > MAX_REPLY:
        text = text[: MAX_REPLY - 1] + "…"
    return f"{code} {text}".strip()


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _lines(value: str) -> str:
    """Body text with one kind of line end, ending in one (the policy writes CRLF)."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


__all__ = ["DEFAULT_PORTS", "SECURITY", "EmailSender", "Security", "message_id"]
