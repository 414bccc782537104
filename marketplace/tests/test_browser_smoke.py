import pytest


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_demo_seller_and_the_admin_sign_in_through_a_real_browser(live_server, page, demo_people):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("seller@demo.test")
    page.get_by_label("Password").fill("demo-seller-2026")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Hello, Sam Seller").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Email").fill("admin@demo.test")
    page.get_by_label("Password").fill("demo-admin-2026")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Operations").wait_for()
    assert page.get_by_role("link", name="Users").count() >= 1
