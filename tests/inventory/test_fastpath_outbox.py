"""The allocation hot path on Postgres: its statements are really prepared on the server, and
``inventory.available_changed`` events are coalesced (one waiting per product and warehouse) without a channel
ever being told about a change before it committed."""

import threading

import pytest
from django.db import connection, connections, transaction

from fulfil import outbox
from fulfil.models import OutboxEvent
from inventory import services
from inventory.models import StockLevel
from inventory.reconcile import ledger_drift
from tests.conftest import requires_postgres
from tests.factories import MerchantFactory
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = requires_postgres
EV = services.EV_AVAILABLE_CHANGED


@pytest.fixture
def no_dispatch(monkeypatch):
    """Events stay pending (no after-commit dispatch), as when the outbox workers are behind."""
    monkeypatch.setattr(outbox, "_enqueue", lambda **kw: None)


def _stocked(code: str, quantity: int):
    merchant = MerchantFactory()
    wh = WarehouseFactory(code=code)
    product = ProductFactory(merchant=merchant, sku=f"{code}-1")
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=quantity)
    return merchant, wh, product


def _waiting(product, wh) -> list[OutboxEvent]:
    return list(
        OutboxEvent.objects.filter(
            event_type=EV,
            status="pending",
            dispatched_at__isnull=True,
            payload__product_id=product.pk,
            payload__warehouse_id=wh.pk,
        )
    )


@pytest.mark.django_db(transaction=True)
def test_reserve_and_release_statements_are_prepared_on_the_server(no_dispatch):
    merchant, wh, product = _stocked("PRP", 10)
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="p:1")
    services.stock_release(merchant=merchant, reference="p:1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("inventory_release_fill" in s for s in prepared)
    assert any("FOR UPDATE" in s and "inventory_allocation" in s for s in prepared)
    # the ORM's own statements stay unprepared (Django's connection keeps prepare_threshold=None)
    assert connection.connection.prepare_threshold is None
    assert len(prepared) == 2


@pytest.mark.django_db(transaction=True)
def test_a_hot_sku_keeps_one_waiting_available_changed(no_dispatch):
    merchant, wh, product = _stocked("HOT", 3)
    assert len(_waiting(product, wh)) == 1  # the receive's
    for i in range(5):  # 3 granted, 2 backordered
        services.stock_reserve(
            merchant=merchant, product=product, warehouse=wh, quantity=1, reference=f"h:{i}"
        )
    services.stock_release(merchant=merchant, reference="h:0")  # its unit goes to h:3's backorder
    with transaction.atomic():  # the locking path (partial release) folds in too
        services.stock_release(merchant=merchant, reference="h:1", quantity=1)

    waiting = _waiting(product, wh)
    assert len(waiting) == 1
    assert waiting[0].payload == {"merchant_id": merchant.pk, "product_id": product.pk, "warehouse_id": wh.pk}
    level = StockLevel.objects.get(product=product, warehouse=wh)
    assert (level.on_hand, level.reserved, level.backordered) == (3, 3, 0)
    assert ledger_drift() == []


@pytest.mark.django_db(transaction=True)
def test_a_change_after_the_claim_gets_an_event_of_its_own(no_dispatch):
    merchant, wh, product = _stocked("CLM", 10)
    (first,) = _waiting(product, wh)
    # Given the drain claimed the waiting event (its handlers are about to read the stock),
    assert first.pk in outbox._claim(100)
    # when the stock changes again,
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="c:1")
    # then that change waits in a fresh event: the claimed one may already have read the old figure.
    (second,) = _waiting(product, wh)
    assert second.pk != first.pk
    assert OutboxEvent.objects.get(pk=first.pk).status == "pending"  # still the drain's to finish


@pytest.mark.django_db(transaction=True)
def test_the_drain_never_claims_an_event_a_writer_is_folding_into(no_dispatch):
    merchant, wh, product = _stocked("LCK", 10)
    (waiting,) = _waiting(product, wh)
    folded = threading.Event()
    finish = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                services.stock_reserve(
                    merchant=merchant, product=product, warehouse=wh, quantity=1, reference="l:1"
                )
                folded.set()
                finish.wait(10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    t = threading.Thread(target=writer)
    t.start()
    assert folded.wait(10)
    # Given a reservation that folded its change into the waiting event and has not committed,
    # the drain's claim skips that row (its handlers would read the stock before the change),
    assert waiting.pk not in outbox._claim(100)
    # and a direct dispatch waits for the writer's commit instead of giving up on the row.
    seen: list[str] = []
    dispatcher = threading.Thread(
        target=lambda: (seen.append(outbox.dispatch(waiting.pk)), connections.close_all())
    )
    dispatcher.start()
    dispatcher.join(0.5)
    assert dispatcher.is_alive()
    finish.set()
    t.join(10)
    dispatcher.join(10)
    assert errors == []
    assert seen == ["done"]
    assert StockLevel.objects.get(product=product, warehouse=wh).reserved == 1
    assert _waiting(product, wh) == []


@pytest.mark.django_db(transaction=True)
def test_emit_of_a_coalesced_type_returns_the_waiting_event(no_dispatch):
    merchant, wh, product = _stocked("EMT", 1)
    (waiting,) = _waiting(product, wh)
    payload = {"merchant_id": merchant.pk, "product_id": product.pk, "warehouse_id": wh.pk}
    with transaction.atomic():
        again = outbox.emit(EV, payload, merchant_id=merchant.pk)
        created = outbox.emit_many(
            [(EV, payload, merchant.pk), (EV, payload, merchant.pk), ("x.other", {}, None)]
        )
    assert again.pk == waiting.pk
    assert [e.event_type for e in created] == ["x.other"]
    assert len(_waiting(product, wh)) == 1


@pytest.mark.django_db(transaction=True)
def test_16_threads_on_a_hot_sku_with_coalesced_events_never_oversell(no_dispatch):
    merchant, wh, product = _stocked("T16", 30)
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def worker(n: int) -> None:
        try:
            start.wait()
            held: list[str] = []
            for i in range(15):
                ref = f"t{n}:{i}"
                services.stock_reserve(
                    merchant=merchant, product=product, warehouse=wh, quantity=1, reference=ref
                )
                held.append(ref)
                if len(held) > 3:
                    services.stock_release(merchant=merchant, reference=held.pop(0))
                if n == 0 and i % 5 == 0:
                    outbox._claim(100)  # a drain claiming now and then: fresh events keep coming
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    level = StockLevel.objects.get(product=product, warehouse=wh)
    assert level.reserved == min(30, 16 * 3)
    assert level.backordered == 16 * 3 - level.reserved
    assert len(_waiting(product, wh)) <= 1
    assert ledger_drift() == []
