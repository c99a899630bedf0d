"""US-001 in a real browser: a new visitor signs up, confirms the email from the captured mail, fills the
business profile and lands on the dashboard with the onboarding checklist — in at most 3 form submissions."""

import re
import time

import pytest
from django.core import mail

from accounts import sms
from accounts.models import Membership, Merchant
from tests.conftest import browser_login
from tests.factories import PASSWORD, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_FORM_SUBMISSIONS = 3


def test_new_visitor_signs_up_and_reaches_the_checklist(page, live_server):
    loads: list[str] = []
    form_posts: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url) if frame == page.main_frame else None)
    page.on(
        "request",
        lambda request: (
            form_posts.append(request.url)
            if request.method == "POST" and request.is_navigation_request()
            else None
        ),
    )

    # The home page links to sign-up and to the public pricing page.
    started = time.monotonic()
    page.goto("/")
    assert page.locator("a[href='/pricing/']").first.is_visible()
    page.click("text=Create your account")
    page.wait_for_url("**/accounts/signup/")

    # 1. Sign-up: one form, email and password, no confirmation field.
    assert page.locator("main form input:visible").count() == 2
    page.fill("input[name=email]", "founder@trailgear.example")
    page.fill("input[name=password1]", "Backcountry-2026!")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "founder@trailgear.example" in page.content()
    assert page.locator("main form").count() == 0  # "check your inbox" needs no further submit

    # The email link is a page load, not a form.
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    page.wait_for_url("**/app/account/profile/")

    # 2. The business profile.
    page.fill("input[name=name]", "Trail Gear Co")
    page.fill("input[name=contact_name]", "Robin Founder")
    page.fill("input[name=street1]", "200 Summit Ave")
    page.fill("input[name=city]", "Boulder")
    page.fill("input[name=postal_code]", "80302")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")

    # The dashboard with the onboarding checklist and its progress.
    checklist = page.locator("#onboarding")
    assert checklist.is_visible()
    assert page.locator("#onboarding li.done[data-step=profile]").count() == 1
    assert page.locator("#onboarding li.done[data-step=verify_email]").count() == 1
    assert page.locator("#onboarding li[data-step=verify_phone]:not(.done)").count() == 1
    assert page.locator("[role=progressbar]").get_attribute("aria-valuenow") != "0"
    merchant = Merchant.objects.get(name="Trail Gear Co")
    assert Membership.objects.get(merchant=merchant).user.email == "founder@trailgear.example"

    elapsed = time.monotonic() - started
    print(
        f"\nsign-up to dashboard: {len(form_posts)} form submissions, {len(loads)} page loads, {elapsed:.1f}s"
    )
    assert elapsed < 60  # US-001: an account in under a minute (here without human typing time)
    assert len(form_posts) <= MAX_FORM_SUBMISSIONS, form_posts
    assert len(form_posts) == 2
    assert len(loads) <= 6, loads
    assert loads[-1] == f"{live_server.url}/app/"


def test_owner_verifies_the_phone_from_the_checklist(page, live_server):
    membership = MembershipFactory(merchant__name="Trail Gear Co")
    sms.outbox.clear()
    browser_login(page, membership.user.email, PASSWORD)
    page.goto("/app/")

    page.click("#onboarding li[data-step=verify_phone] a")
    page.wait_for_url("**/app/account/phone/")
    page.fill("input[name=phone]", "303 555 0123")
    page.click("#phone-form button[type=submit]")
    page.wait_for_selector("#code-form")
    code = sms.outbox[-1][1].split("code is ")[1][:6]
    page.fill("input[name=code]", code)
    page.click("#code-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")

    assert "+13035550123 is verified" in page.inner_text(".messages")
    assert page.locator("#onboarding li.done[data-step=verify_phone]").count() == 1
    membership.user.refresh_from_db()
    assert membership.user.phone_verified is True
