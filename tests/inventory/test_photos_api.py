"""Product photos through the API: upload (multipart), list in the product detail, delete; size and type
validation answer 400 with the reason; another merchant's product or photo is 404."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inventory import services
from inventory.models import Product, ProductPhoto

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def png(name="p.png", size=(40, 30), fmt="PNG") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def product(merchant_a):
    return services.product_create(merchant=merchant_a, sku="PHOTO-1", name="Lamp")


def test_upload_list_and_delete_photos(api_a, product, media):
    first = api_a.post("/api/v1/products/PHOTO-1/photos/", {"image": png("a.png")}, format="multipart")
    assert first.status_code == 201, first.content
    assert (first.json()["primary"], first.json()["width"], first.json()["height"]) == (True, 40, 30)
    assert first.json()["content_type"] == "image/png"
    second = api_a.post(
        "/api/v1/products/PHOTO-1/photos/", {"image": png("b.jpg", fmt="JPEG")}, format="multipart"
    )
    assert second.status_code == 201
    assert second.json()["primary"] is False
    detail = api_a.get("/api/v1/products/PHOTO-1/").json()
    assert [p["id"] for p in detail["photos"]] == [first.json()["id"], second.json()["id"]]
    assert detail["photo_url"] == first.json()["url"]
    assert detail["photos"][0]["url"].startswith("http://testserver/media/products/")
    # deleting the primary promotes the next one; the file goes
    path = media / ProductPhoto.objects.get(pk=first.json()["id"]).image.name
    assert path.exists()
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        gone = api_a.delete(f"/api/v1/products/PHOTO-1/photos/{first.json()['id']}/")
    assert gone.status_code == 204
    assert not path.exists()
    detail = api_a.get("/api/v1/products/PHOTO-1/").json()
    assert [p["id"] for p in detail["photos"]] == [second.json()["id"]]
    assert detail["photos"][0]["primary"] is True
    assert detail["photo_url"] == second.json()["url"]


def test_bad_files_are_a_clear_400_and_change_nothing(api_a, product, settings):
    text = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    r = api_a.post("/api/v1/products/PHOTO-1/photos/", {"image": text}, format="multipart")
    assert r.status_code == 400
    assert r.json()["image"] == ["That file is not an image we can read (JPEG, PNG, WebP or GIF)."]
    bmp = api_a.post(
        "/api/v1/products/PHOTO-1/photos/", {"image": png("x.bmp", fmt="BMP")}, format="multipart"
    )
    assert bmp.status_code == 400
    assert bmp.json()["image"] == ["BMP images are not accepted: use JPEG, PNG, WebP or GIF."]
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 1), content_type="image/png")
    r = api_a.post("/api/v1/products/PHOTO-1/photos/", {"image": big}, format="multipart")
    assert r.status_code == 400
    assert r.json()["image"] == ["The photo is 5.0 MB; the limit is 5 MB."]
    missing = api_a.post("/api/v1/products/PHOTO-1/photos/", {}, format="multipart")
    assert missing.status_code == 400
    assert "image" in missing.json()
    assert ProductPhoto.objects.count() == 0
    assert Product.objects.get(pk=product.pk).photo.name == ""


def test_another_merchant_gets_404(api_a, api_b, product):
    r = api_a.post("/api/v1/products/PHOTO-1/photos/", {"image": png()}, format="multipart")
    photo_id = r.json()["id"]
    assert (
        api_b.post("/api/v1/products/PHOTO-1/photos/", {"image": png()}, format="multipart").status_code
        == 404
    )
    assert api_b.delete(f"/api/v1/products/PHOTO-1/photos/{photo_id}/").status_code == 404
    assert api_b.get(f"/api/v1/products/PHOTO-1/photos/{photo_id}/").status_code == 404
    assert ProductPhoto.objects.count() == 1


def test_photos_are_in_the_schema(api_a):
    schema = api_a.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    ops = schema["paths"]["/api/v1/products/{sku}/photos/"]
    assert "multipart/form-data" in ops["post"]["requestBody"]["content"]
    assert "delete" in schema["paths"]["/api/v1/products/{sku}/photos/{photo_id}/"]
    assert "photos" in schema["components"]["schemas"]["Product"]["properties"]
