"""US-001 "verification via email and phone": the phone half, by a 6-digit SMS code."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services, sms
from accounts.models import PhoneVerification
from fulfil import onboarding
from fulfil.models import AuditEntry
from tests.foundation import fake_twilio

PHONE = "+13035550123"


@pytest.fixture(autouse=True)
def _clear_sms_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _code_from_sms() -> str:
    _, text = sms.outbox[-1]
    return next(w for w in (word.rstrip(".") for word in text.split()) if w.isdigit() and len(w) == 6)


@pytest.mark.django_db
def test_phone_verified_by_texted_code_ticks_the_checklist(client_a, user_a, merchant_a):
    page = client_a.get("/app/account/phone/")
    assert page.status_code == 200
    assert 'id="phone-form"' in page.content.decode()

    response = client_a.post("/app/account/phone/", {"phone": "(303) 555-0123"})

    assert response.status_code == 302
    assert response["Location"] == "/app/account/phone/"
    assert len(sms.outbox) == 1
    assert sms.outbox[0][0] == PHONE
    code = _code_from_sms()
    verification = PhoneVerification.objects.get(user=user_a)
    assert verification.phone == PHONE
    assert verification.code_hash == sms.hash_code(phone=PHONE, code=code)
    assert code not in verification.code_hash
    assert verification.expires_at - verification.created_at == timedelta(minutes=10)
    page = client_a.get("/app/account/phone/").content.decode()
    assert 'id="code-form"' in page
    assert PHONE in page

    wrong = "000000" if code != "000000" else "111111"
    response = client_a.post("/app/account/phone/", {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right. 4 tries left." in response.content.decode()
    user_a.refresh_from_db()
    assert user_a.phone_verified is False

    response = client_a.post("/app/account/phone/", {"code": f"{code[:3]} {code[3:]}"})

    assert response.status_code == 302
    assert response["Location"] == "/app/"
    user_a.refresh_from_db()
    assert (user_a.phone, user_a.phone_verified) == (PHONE, True)
    verification.refresh_from_db()
    assert verification.attempts == 2
    assert verification.verified_at is not None
    steps = {step.key: done for step, done in onboarding.progress(merchant_a).items}
    assert steps["verify_phone"] is True
    assert list(
        AuditEntry.objects.filter(object_type="user", object_id=str(user_a.pk)).values_list("action", "after")
    ) == [
        ("phone_code_sent", {"phone": "+•••••••0123"}),
        ("phone_verified", {"phone": PHONE, "phone_verified": True}),
    ]


@pytest.mark.django_db
def test_invalid_number_is_refused_and_nothing_is_sent(client_a, user_a):
    for bad in ["hello", "+1 555 0000", "12"]:
        response = client_a.post("/app/account/phone/", {"phone": bad})
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    assert sms.outbox == []
    assert PhoneVerification.objects.count() == 0


def test_phone_normalize_uses_the_region_for_national_numbers():
    assert services.phone_normalize(raw="030 901820", region="DE") == "+4930901820"
    assert services.phone_normalize(raw="+44 20 7946 0018", region="US") == "+442079460018"
    assert services.phone_normalize(raw="303.555.0123") == PHONE


@pytest.mark.django_db
def test_expired_code_is_refused(user_a):
    services.phone_verification_start(user=user_a, phone=PHONE)
    code = _code_from_sms()
    PhoneVerification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(services.PhoneVerificationError, match="expired"):
        services.phone_verification_confirm(user=user_a, code=code)

    user_a.refresh_from_db()
    assert user_a.phone_verified is False


@pytest.mark.django_db
def test_five_wrong_codes_burn_the_code(client_a, user_a):
    services.phone_verification_start(user=user_a, phone=PHONE)
    code = _code_from_sms()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(PhoneVerification.MAX_ATTEMPTS):
        assert services.phone_verification_confirm(user=user_a, code=wrong) is False

    with pytest.raises(services.PhoneVerificationError, match="Too many wrong codes"):
        services.phone_verification_confirm(user=user_a, code=code)

    assert PhoneVerification.objects.get().attempts == 5
    user_a.refresh_from_db()
    assert user_a.phone_verified is False
    page = client_a.get("/app/account/phone/").content.decode()
    assert 'id="phone-form"' in page  # a new code must be asked for


@pytest.mark.django_db
def test_a_new_code_supersedes_the_old_one(user_a):
    services.phone_verification_start(user=user_a, phone=PHONE)
    first = _code_from_sms()
    PhoneVerification.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    services.phone_verification_start(user=user_a, phone=PHONE)
    second = _code_from_sms()
    if first != second:
        assert services.phone_verification_confirm(user=user_a, code=first) is False
    assert services.phone_verification_confirm(user=user_a, code=second) is True


@pytest.mark.django_db
def test_sending_codes_is_rate_limited(client_a, user_a):
    assert client_a.post("/app/account/phone/", {"phone": PHONE}).status_code == 302

    response = client_a.post("/app/account/phone/", {"phone": PHONE})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 30
    assert "You can ask for another in" in response.content.decode()
    assert len(sms.outbox) == 1
    # Five codes an hour at most, even spaced out.
    for _ in range(4):
        PhoneVerification.objects.update(created_at=timezone.now() - timedelta(minutes=5))
        services.phone_verification_start(user=user_a, phone=PHONE)
    PhoneVerification.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(services.PhoneRateLimited, match="Too many codes"):
        services.phone_verification_start(user=user_a, phone=PHONE)
    assert len(sms.outbox) == 5
    assert PhoneVerification.objects.count() == 5


@pytest.mark.django_db
def test_one_number_cannot_be_pumped_from_many_accounts(user_a):
    from tests.factories import UserFactory

    for _ in range(services.PHONE_MAX_SENDS):
        services.phone_verification_start(user=UserFactory(), phone=PHONE)
    with pytest.raises(services.PhoneRateLimited):
        services.phone_verification_start(user=user_a, phone=PHONE)
    assert len(sms.outbox) == 5


# --- Twilio Verify, through its real wire format, against a local fake ------------------------------------


@pytest.fixture
def twilio(settings):
    with fake_twilio.FakeTwilioVerify() as fake:
        settings.SMS_BACKEND = "accounts.sms.TwilioVerifyBackend"
        settings.TWILIO_VERIFY_BASE = fake.base_url
        settings.TWILIO_ACCOUNT_SID = fake_twilio.ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = fake_twilio.AUTH_TOKEN
        settings.TWILIO_VERIFY_SERVICE_SID = fake_twilio.SERVICE_SID
        yield fake


def test_twilio_backend_speaks_the_verify_wire_format(twilio):
    backend = sms.TwilioVerifyBackend()

    started = backend.start(phone=PHONE)

    assert started.reference.startswith("VE")
    assert len(started.reference) == 34
    assert started.code_hash == ""
    request = twilio.requests[0]
    assert request["path"] == f"/v2/Services/{fake_twilio.SERVICE_SID}/Verifications"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {"To": PHONE, "Channel": "sms"}
    assert request["authorization"].startswith("Basic ")
    code = twilio.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert backend.check(phone=PHONE, code=wrong, started=started) is False
    assert backend.check(phone=PHONE, code=code, started=started) is True
    assert twilio.requests[-1]["form"] == {"To": PHONE, "Code": code}
    # An approved verification is gone: checking again is Twilio's 404, i.e. "not valid".
    assert backend.check(phone=PHONE, code=code, started=started) is False


def test_twilio_errors_are_typed(twilio):
    with pytest.raises(sms.SmsRejected, match="Invalid parameter"):
        sms.TwilioVerifyBackend().start(phone="5550123")
    with pytest.raises(sms.SmsRejected, match="Authenticate"):
        sms.TwilioVerifyBackend(auth_token="wrong").start(phone=PHONE)
    twilio.fail_with = 503
    with pytest.raises(sms.SmsUnavailable):
        sms.TwilioVerifyBackend().start(phone=PHONE)
    with pytest.raises(sms.SmsUnavailable):
        sms.TwilioVerifyBackend(base_url="http://127.0.0.1:9", timeout=2).start(phone=PHONE)


@pytest.mark.django_db
def test_phone_page_with_twilio_verify(twilio, client_a, user_a):
    assert client_a.post("/app/account/phone/", {"phone": "303-555-0123"}).status_code == 302
    verification = PhoneVerification.objects.get(user=user_a)
    assert verification.reference == twilio.pending[PHONE]["sid"]
    assert verification.code_hash == ""

    response = client_a.post("/app/account/phone/", {"code": twilio.last_code(PHONE)})

    assert response.status_code == 302
    user_a.refresh_from_db()
    assert (user_a.phone, user_a.phone_verified) == (PHONE, True)
    assert sms.outbox == []


@pytest.mark.django_db
def test_provider_outage_is_a_503_and_does_not_count_as_an_open_code(twilio, client_a, user_a):
    twilio.fail_with = 503

    response = client_a.post("/app/account/phone/", {"phone": PHONE})

    assert response.status_code == 503
    assert "cannot be sent right now" in response.content.decode()
    assert services.phone_verification_open(user=user_a) is None
    user_a.refresh_from_db()
    assert user_a.phone_verified is False
