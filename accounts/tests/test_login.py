from django.urls import reverse


def test_login_page_is_served_to_anyone(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_a_seller_signs_in_with_email_and_password_and_lands_on_home(client, demo_people):
    response = client.post(
        reverse("login"), {"username": "seller@demo.test", "password": "demo-seller-2026"}, follow=True
    )
    assert response.status_code == 200
    assert b"Sam Seller" in response.content
    assert response.context["user"].is_seller


def test_a_wrong_password_says_so_and_signs_nobody_in(client, demo_people):
    response = client.post(reverse("login"), {"username": "seller@demo.test", "password": "wrong"})
    assert response.status_code == 200
    assert b"do not match an account" in response.content
    assert not response.context["user"].is_authenticated


def test_email_is_matched_case_insensitively_because_it_is_stored_lowercase(client, db):
    from accounts.models import User

    User.objects.create_user(email="Mixed.Case@Example.com", password="a-good-password-1")
    assert client.login(username="mixed.case@example.com", password="a-good-password-1")


def test_sign_out_is_a_post_and_ends_the_session(client, demo_people):
    client.login(username="buyer@demo.test", password="demo-buyer-2026")
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_admin_staff_are_sent_to_the_admin(client, demo_people):
    client.login(username="admin@demo.test", password="demo-admin-2026")
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")
