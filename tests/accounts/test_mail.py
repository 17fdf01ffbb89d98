"""Outgoing mail: real SMTP delivery, a typed error when the server is down, only after commit."""

import pytest

from accounts import mail
from tests.fixtures_accounts import free_port


def test_send_mail_delivers_text_and_html(app, smtp_server):
    with app.app_context():
        mail.send_mail(
            "ana@example.org", "Hello", "Plain words.", html_body="<p>Plain <b>words</b>.</p>"
        )
    [message] = smtp_server.messages
    assert message["To"] == "ana@example.org"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"].endswith("@wraparound.local>")
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "Plain words."
    assert "<b>words</b>" in message.get_body(preferencelist=("html",)).get_content()


def test_a_server_that_is_down_raises_mail_error(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    with app.app_context(), pytest.raises(mail.MailError, match="could not send mail through"):
        mail.send_mail("ana@example.org", "Hello", "Plain words.")


def test_queued_mail_is_sent_only_when_the_transaction_commits(app, smtp_server):
    from extensions import db

    with app.app_context():
        mail.send_after_commit("rolled-back@example.org", "Never", "Never sent.")
        db.session.rollback()
        mail.send_after_commit("committed@example.org", "Sent", "Sent after commit.")
        assert smtp_server.messages == []
        db.session.commit()
        assert mail.delivery_failures() == []
        db.session.commit()  # nothing left to send twice
    assert [m["To"] for m in smtp_server.messages] == ["committed@example.org"]


def test_failures_after_commit_are_listed_not_raised(app):
    from extensions import db

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    with app.app_context():
        mail.send_after_commit("ana@example.org", "Hello", "Plain words.")
        db.session.commit()
        [(outgoing, error)] = mail.delivery_failures()
        assert outgoing.to == "ana@example.org"
        assert isinstance(error, mail.MailError)
