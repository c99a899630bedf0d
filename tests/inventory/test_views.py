import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from fulfil import onboarding
from inventory import services
from inventory.models import LowStockAlert, Product
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(merchant_a):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a, sku="TENT", name="Tent")
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=10)
    services.stock_reserve(
        merchant=merchant_a, product=p, warehouse=wh, quantity=3, reference="order_line:77"
    )
    services.stock_hold(merchant=merchant_a, product=p, warehouse=wh, quantity=2, reason="QC check")
    services.stock_set_safety_stock(merchant=merchant_a, product=p, warehouse=wh, safety_stock=1)
    services.inbound_create(merchant=merchant_a, warehouse=wh, lines=[(p, 5)], reference="PO-9")
    return p, wh


def test_every_page_renders(client_a, stocked):
    p, _ = stocked
    for url in [
        "/app/inventory/",
        "/app/inventory/?low=1&q=TE&warehouse=WH1",
        "/app/inventory/movements/",
        "/app/inventory/reports/?by=location",
        "/app/inventory/reports/",
        "/app/inventory/channels/",
        "/app/inventory/products/",
        "/app/inventory/products/new/",
        f"/app/inventory/products/{p.pk}/",
        f"/app/inventory/products/{p.pk}/edit/",
        "/app/inventory/catalog/review/",
        "/app/inventory/catalog/import/",
        "/app/inventory/inbound/",
        "/app/inventory/inbound/new/",
    ]:
        r = client_a.get(url)
        assert r.status_code == 200, url


def test_why_available_breakdown(client_a, stocked):
    p, _ = stocked
    html = client_a.get(f"/app/inventory/products/{p.pk}/").content.decode()
    assert "Why is available 4?" in html  # 10 on hand − 3 reserved − 2 held − 1 safety
    assert "order_line:77" in html
    assert "QC check" in html
    assert "PO-9" in html


def test_product_form_converts_imperial_units(client_a, merchant_a):
    r = client_a.post(
        "/app/inventory/products/new/",
        {
            "sku": "BOOT",
            "name": "Boot",
            "barcode": "036000291452",
            "units": "imperial",
            "weight": "2",
            "weight_unit": "lb",
            "length": "12",
            "width": "5",
            "height": "4.5",
            "dimension_unit": "in",
            "value": "80",
            "currency": "USD",
            "packaging": "",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    p = Product.objects.get(sku="BOOT")
    assert (p.weight_g, p.length_mm, p.width_mm, p.height_mm, p.status) == (907, 305, 127, 114, "draft")


def test_product_form_rejects_bad_check_digit(client_a, merchant_a):
    r = client_a.post(
        "/app/inventory/products/new/",
        {
            "sku": "X",
            "name": "X",
            "barcode": "036000291453",
            "units": "metric",
            "weight_unit": "g",
            "dimension_unit": "cm",
            "value": "1",
            "currency": "USD",
        },
    )
    assert r.status_code == 200
    assert "check digit" in r.content.decode()
    assert not Product.objects.filter(sku="X").exists()


def test_csv_import_previews_then_confirms(client_a, merchant_a):
    ProductFactory(merchant=merchant_a, sku="OLD", name="Old name")
    csv_text = (
        "sku,name,weight,weight_unit,length,width,height,dimension_unit,barcode,hazmat,un_class,components\n"
        "MUG,Mug,12,oz,10,10,12,cm,,no,,\n"
        "OLD,New name,,,,,,,,,,\n"
        "BAD,Bad,abc,g,,,,,036000291453,maybe,,\n"
        "SET,Set,,,,,,,,,,MUG:2;OLD:1\n"
    )
    r = client_a.post(
        "/app/inventory/catalog/import/", {"file": SimpleUploadedFile("c.csv", csv_text.encode())}
    )
    assert r.status_code == 302
    preview = client_a.get(r["Location"]).content.decode()
    assert "check digit" in preview
    assert "hazmat: use yes or no" in preview
    assert not Product.objects.filter(sku="MUG").exists()  # nothing written yet
    assert Product.objects.get(sku="OLD").name == "Old name"
    r = client_a.post(r["Location"])
    assert r.status_code == 302
    assert Product.objects.get(sku="MUG").weight_g == 340
    assert Product.objects.get(sku="OLD").name == "New name"
    assert not Product.objects.filter(sku="BAD").exists()
    kit = Product.objects.get(sku="SET")
    assert kit.is_kit
    assert sorted((c.component.sku, c.quantity) for c in kit.components.all()) == [
        ("MUG", 2),
        ("OLD", 1),
    ]
    export = b"".join(client_a.get("/app/inventory/products/?format=csv").streaming_content).decode()
    assert "SET,Set" in export
    assert "MUG:2;OLD:1" in export


def test_review_and_activate_ticks_onboarding(client_a, merchant_a):
    ProductFactory(merchant=merchant_a, sku="D1", status="draft")
    done = dict((s.key, ok) for s, ok in onboarding.progress(merchant_a).items)
    assert done["products"] is True
    assert done["catalog_review"] is False
    assert done["send_inventory"] is False
    client_a.post("/app/inventory/catalog/review/", {})
    assert Product.objects.get(sku="D1").status == "active"
    done = dict((s.key, ok) for s, ok in onboarding.progress(merchant_a).items)
    assert done["catalog_review"] is True


def test_low_stock_alert_emails_owner_once(merchant_a, user_a, settings):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a, sku="LOW", low_stock_threshold=5)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=8)
    assert not LowStockAlert.objects.exists()
    with pytest.MonkeyPatch.context():
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=4, reference="r1")
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=1, reference="r2")
    assert LowStockAlert.objects.filter(product=p, resolved_at__isnull=True).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user_a.email]
    assert "LOW" in mail.outbox[0].subject
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=10)
    assert not LowStockAlert.objects.filter(product=p, resolved_at__isnull=True).exists()


def test_csv_exports(client_a, stocked):
    inv = b"".join(client_a.get("/app/inventory/?format=csv").streaming_content).decode()
    assert "TENT,Tent,WH1,10,3,2,1,4,0,5,0" in inv
    mov = b"".join(client_a.get("/app/inventory/movements/?format=csv").streaming_content).decode()
    assert "receive,TENT,WH1,10" in mov


def test_photo_upload(client_a, merchant_a, settings, tmp_path):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    photo = SimpleUploadedFile("lamp.png", buf.getvalue(), content_type="image/png")
    r = client_a.post(
        "/app/inventory/products/new/",
        {
            "sku": "LAMP",
            "name": "Lamp",
            "units": "metric",
            "weight": "90",
            "weight_unit": "g",
            "dimension_unit": "cm",
            "value": "1",
            "currency": "USD",
            "photo": photo,
        },
    )
    assert r.status_code == 302
    p = Product.objects.get(sku="LAMP")
    assert p.photo.name.startswith("products/")
    assert (tmp_path / p.photo.name).exists()
    assert p.photo.url in client_a.get(f"/app/inventory/products/{p.pk}/").content.decode()


def test_low_stock_list_recommends_a_reorder_quantity(client_a, merchant_a):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a, sku="FAST", low_stock_threshold=12)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=40)
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=30, reference="big")
    services.stock_ship(merchant=merchant_a, reference="big")  # 30 shipped in 30 days: 1 a day
    html = client_a.get("/app/inventory/").content.decode()
    # target 30 days × 1 + threshold 12 = 42; have 10 available → reorder 32
    assert "Reorder 32" in html
