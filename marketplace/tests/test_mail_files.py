import email
from email import policy

from django.core.mail import EmailMultiAlternatives

from marketplace.mail_files import EmlFileBackend


def test_each_email_is_an_eml_file_a_mail_program_opens_with_its_subject_readable(tmp_path, caplog):
    message = EmailMultiAlternatives(
        subject="We could not charge Visa •••• 4242 (exp. 12/29) – we will try again on 7 Dec 2026",
        body="Plain text",
        from_email="Marketplace <no-reply@marketplace.local>",
        to=["bea@example.com"],
    )
    message.attach_alternative("<p>HTML</p>", "text/html")
    caplog.set_level("INFO", logger="marketplace.mail_files")

    assert EmlFileBackend(file_path=tmp_path).send_messages([message]) == 1

    [path] = tmp_path.glob("*.eml")
    assert "we-could-not-charge-visa-4242" in path.name
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == message.subject  # decoded exactly, with no leading space
    assert b"\nSubject: We could not charge" in path.read_bytes()  # on the header's own line
    assert parsed.get_body(("html",)).get_content().strip() == "<p>HTML</p>"
    assert f"Email to bea@example.com: {message.subject} ({path})" in caplog.text
