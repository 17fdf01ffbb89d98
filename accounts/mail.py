"""Outgoing email over SMTP, sent now or once the current transaction has committed."""

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING_KEY = "accounts.outgoing_mail"


class MailError(Exception):
    """The mail server could not be reached or refused the message."""


class MailServerUnreachable(MailError):
    """No SMTP session could be opened: refused, or no greeting within MAIL_CONNECT_TIMEOUT.

    Every other email would fail the same way, so the outbox stops its run after a few.
    """


# Failures while opening the session (connect, greeting, EHLO): the server is not there.
_UNREACHABLE = (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text_body: str
    html_body: str | None = None


def send_mail(to: str, subject: str, text_body: str, html_body: str | None = None) -> None:
    """Deliver one message through the configured SMTP server, or raise MailError saying why."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=_sender_domain(config["MAIL_FROM"]))
    message.set_content(text_body)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    server, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    smtp = _open_session(server, port, config)
    try:
        with smtp:
            smtp.sock.settimeout(float(config["MAIL_TIMEOUT"]))  # sending may take longer
            if config.get("MAIL_USE_STARTTLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not send mail through {server}:{port}: {exc}") from exc


def _open_session(server: str, port: int, config) -> smtplib.SMTP:
    """Connect, read the greeting and say EHLO, each within MAIL_CONNECT_TIMEOUT (a server
    that accepts and never answers costs that, not the longer MAIL_TIMEOUT for sending)."""
    timeout = float(config["MAIL_CONNECT_TIMEOUT"])
    try:
        smtp = smtplib.SMTP(server, port, timeout=timeout)
    except _UNREACHABLE as exc:
        raise MailServerUnreachable(f"could not send mail through {server}:{port}: {exc}") from exc
    try:
        smtp.ehlo_or_helo_if_needed()
    except _UNREACHABLE as exc:
        smtp.close()
        raise MailServerUnreachable(f"could not send mail through {server}:{port}: {exc}") from exc
    return smtp


def send_after_commit(to: str, subject: str, text_body: str, html_body: str | None = None) -> None:
    """Queue a message on the current session; it is sent only if the transaction commits.

    Sending after the commit keeps the database's write lock short and never mails a link to a
    record that was rolled back. Failures are logged and listed by `delivery_failures()`.
    """
    from extensions import db

    session = db.session()
    if not session.in_transaction():
        session.begin()  # so a rollback before any SQL still drops the queue
    session.info.setdefault(_PENDING_KEY, []).append(
        OutgoingMail(to, subject, text_body, html_body)
    )


def delivery_failures() -> list[tuple[OutgoingMail, MailError]]:
    """Messages queued with `send_after_commit` that failed to send in this app context."""
    return list(g.get("mail_failures", []))


@event.listens_for(Session, "after_commit")
def _deliver_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, [])
    for outgoing in pending:
        try:
            send_mail(outgoing.to, outgoing.subject, outgoing.text_body, outgoing.html_body)
        except MailError as exc:
            log.error("mail %r was not delivered: %s", outgoing.subject, exc)
            g.setdefault("mail_failures", []).append((outgoing, exc))


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction) -> None:
    # Runs after `after_commit` has sent the queue; whatever is left was rolled back or closed.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def _sender_domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"
