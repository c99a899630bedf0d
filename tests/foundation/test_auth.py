"""Sign-up, login lockout, password reset — allauth configured as US-001 needs it."""

import re

import pytest
from django.core import mail

from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-123"


def _login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_signup_form_asks_only_email_and_password(client):
    page = client.get("/accounts/signup/").content.decode()
    names = set(re.findall(r'<input[^>]* name="([^"]+)"', page)) - {"csrfmiddlewaretoken"}
    assert names == {"email", "password1"}


def test_signup_refuses_a_taken_email_and_a_weak_password(client, user_a):
    weak = client.post("/accounts/signup/", {"email": "new@shop.example", "password1": "12345"})
    assert weak.status_code == 200
    assert "errorlist" in weak.content.decode()
    assert mail.outbox == []
    # A taken email looks like a normal sign-up (no account enumeration); its owner gets a notice instead.
    taken = client.post("/accounts/signup/", {"email": user_a.email, "password1": "a-strong-pass-123"})
    assert taken.status_code == 302
    assert User.objects.count() == 1
    assert [m.to for m in mail.outbox] == [[user_a.email]]
    assert "already" in mail.outbox[0].body


def test_unverified_email_cannot_reach_the_dashboard(client):
    client.post("/accounts/signup/", {"email": "new@shop.example", "password1": "a-strong-pass-123"})
    response = client.get("/app/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_is_locked_after_five_failures_even_with_the_right_password(client, user_a):
    for _ in range(5):
        response = _login(client, user_a.email, WRONG)
        assert response.status_code == 200
        assert "not correct" in response.content.decode()

    response = _login(client, user_a.email, PASSWORD)

    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another account from the same browser is not locked by these failures.
    from tests.factories import UserFactory

    other = UserFactory(email="other@shop.example")
    assert _login(client, other.email, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


def test_login_posts_from_one_ip_are_answered_429(client):
    statuses = [_login(client, f"nobody{n}@shop.example", WRONG).status_code for n in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_password_reset_by_emailed_link(client, user_a):
    response = client.post("/accounts/password/reset/", {"email": user_a.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user_a.email]
    link = re.search(r"https?://\S+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body).group(1)

    response = client.get(link)
    assert response.status_code == 302  # allauth moves the key out of the URL into the session
    set_password_url = response["Location"]
    response = client.post(
        set_password_url, {"password1": "brand-new-secret-42", "password2": "brand-new-secret-42"}
    )

    assert response.status_code == 302
    user_a.refresh_from_db()
    assert user_a.check_password("brand-new-secret-42")
    client.logout()
    assert _login(client, user_a.email, PASSWORD).status_code == 200
    assert _login(client, user_a.email, "brand-new-secret-42").status_code == 302
    # The link works once.
    client.logout()
    response = client.get(link, follow=True)
    assert "bad token" in response.content.decode().lower() or "invalid" in response.content.decode().lower()
