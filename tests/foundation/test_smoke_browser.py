import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_renders_in_chromium(page):
    page.goto("/")
    assert "Prices on the page" in page.text_content("h1")
    assert page.locator("a", has_text="Create your account").is_visible()
