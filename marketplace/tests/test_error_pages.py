import pytest

from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings):
    settings.DEBUG = True  # `make run`'s default


def test_a_wrong_order_number_gets_the_products_page_not_djangos_url_list(debug, client):
    order = OrderFactory()
    client.force_login(order.buyer)
    response = client.get("/orders/999999/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing here, or it is not yours to see." in html
    assert "URLconf" not in html and "orders/&lt;int:order_id&gt;" not in html


def test_an_unknown_address_gets_the_products_page_too(debug, client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and "URLconf" not in response.content.decode()
    assert "There is nothing here" in response.content.decode()


def test_a_missing_slash_is_still_added(debug, client):
    assert client.get("/admin").status_code == 301


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
