"""``inventory_release_fill``: a full release of a reference and the backorder fill of the freed units, as one
PL/pgSQL call (one round trip, so the hot level row is locked for microseconds, not for a dozen client round
trips). Used by ``inventory.services.fastpath.release_fast`` on Postgres; SQLite keeps the Python path.

It follows the general lock order — levels (pk order) → allocations (pk order) — and, unlike a single SQL
statement made of CTEs (whose sub-statements all share the statement's snapshot), every statement in a
PL/pgSQL function sees the rows as they are after the locks above it were taken, so the fill is decided on
current values. It writes nothing and returns ``ok = false`` when the reference has anything the general path
must handle (kit parents or children, picked units) or a kit waits on one of its levels.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION inventory_release_fill(
    p_m bigint, p_ref text, p_now timestamptz, p_ev_avail text, p_ev_alloc text,
    OUT ok boolean, OUT freed integer, OUT event_ids bigint[], OUT low_ids bigint[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    r record;
    lv record;
    q record;
    free_units integer;
    take integer;
    filled integer;
    touched bigint[] := ARRAY[]::bigint[];  -- pairs flattened: product, warehouse, product, warehouse, ...
    lvl_ids bigint[];
    ev_id bigint;
BEGIN
    ok := false; freed := 0; event_ids := ARRAY[]::bigint[]; low_ids := ARRAY[]::bigint[];
    IF EXISTS (
        SELECT 1 FROM inventory_allocation a
        WHERE a.merchant_id = p_m AND a.reference = p_ref AND a.status = 'open'
          AND (a.parent_id IS NOT NULL OR a.picked > 0
               OR EXISTS (SELECT 1 FROM inventory_allocation c WHERE c.parent_id = a.id))
    ) THEN
        RETURN;
    END IF;
    -- 1. levels, in pk order
    SELECT coalesce(array_agg(s.id ORDER BY s.id), ARRAY[]::bigint[]) INTO lvl_ids FROM (
        SELECT l.id FROM inventory_stocklevel l
        WHERE l.merchant_id = p_m AND (l.product_id, l.warehouse_id) IN (
            SELECT a.product_id, a.warehouse_id FROM inventory_allocation a
            WHERE a.merchant_id = p_m AND a.reference = p_ref AND a.status = 'open')
        ORDER BY l.id FOR UPDATE OF l) s;
    -- a kit waiting on one of these levels: the general path fills kits
    IF EXISTS (
        SELECT 1 FROM inventory_allocation k
        WHERE (k.product_id, k.warehouse_id) IN (
            SELECT a.product_id, a.warehouse_id FROM inventory_allocation a
            WHERE a.merchant_id = p_m AND a.reference = p_ref AND a.status = 'open')
          AND k.merchant_id = p_m AND k.status = 'open' AND k.parent_id IS NOT NULL
          AND k.requested > k.allocated + k.shipped
    ) THEN
        RETURN;
    END IF;
    -- 2. the reference's allocations, in pk order: closed, their units given back
    FOR r IN
        SELECT a.id, a.product_id, a.warehouse_id, a.allocated, a.requested - a.allocated - a.shipped AS back,
               a.picked, a.parent_id
        FROM inventory_allocation a
        WHERE a.merchant_id = p_m AND a.reference = p_ref AND a.status = 'open'
        ORDER BY a.id FOR UPDATE
    LOOP
        IF r.picked > 0 OR r.parent_id IS NOT NULL THEN
            RAISE EXCEPTION 'inventory_release_fill: % changed under its lock', p_ref USING ERRCODE = '40001';
        END IF;
        UPDATE inventory_stocklevel l
        SET reserved = l.reserved - r.allocated, backordered = l.backordered - r.back, updated_at = p_now
        WHERE l.merchant_id = p_m AND l.product_id = r.product_id AND l.warehouse_id = r.warehouse_id;
        UPDATE inventory_allocation a
        SET requested = a.shipped, allocated = 0, status = 'closed', updated_at = p_now
        WHERE a.id = r.id;
        freed := freed + r.allocated;
        IF r.allocated > 0 THEN
            touched := touched || ARRAY[r.product_id, r.warehouse_id];
        END IF;
    END LOOP;
    ok := true;
    -- 3. freed units to the waiting backorders: priority first, then the oldest request
    FOR lv IN
        SELECT l.id, l.product_id, l.warehouse_id, l.backordered,
               l.on_hand - l.reserved - l.held - l.safety_stock AS free_units
        FROM inventory_stocklevel l
        WHERE l.id = ANY(lvl_ids)
        ORDER BY l.id
    LOOP
        CONTINUE WHEN lv.backordered <= 0 OR lv.free_units <= 0;
        free_units := lv.free_units;
        filled := 0;
        PERFORM 1 FROM inventory_allocation a
        WHERE a.merchant_id = p_m AND a.product_id = lv.product_id AND a.warehouse_id = lv.warehouse_id
          AND a.status = 'open' AND a.requested > a.allocated + a.shipped
        ORDER BY a.id FOR UPDATE;
        FOR q IN
            SELECT a.id, a.requested - a.allocated - a.shipped AS short
            FROM inventory_allocation a
            WHERE a.merchant_id = p_m AND a.product_id = lv.product_id AND a.warehouse_id = lv.warehouse_id
              AND a.status = 'open' AND a.requested > a.allocated + a.shipped AND a.parent_id IS NULL
            ORDER BY a.priority DESC, a.requested_at, a.id
        LOOP
            EXIT WHEN free_units <= 0;
            take := LEAST(free_units, q.short);
            UPDATE inventory_allocation a SET allocated = a.allocated + take, updated_at = p_now
            WHERE a.id = q.id;
            INSERT INTO fulfil_outboxevent
                (event_type, payload, merchant_id, status, handled, attempts, last_error, created_at)
            SELECT p_ev_alloc,
                   jsonb_build_object('merchant_id', p_m, 'reference', a.reference, 'product_id', a.product_id,
                                      'warehouse_id', a.warehouse_id, 'requested', a.requested,
                                      'allocated', a.allocated),
                   p_m, 'pending', '[]'::jsonb, 0, '', p_now
            FROM inventory_allocation a WHERE a.id = q.id
            RETURNING id INTO ev_id;
            event_ids := event_ids || ev_id;
            free_units := free_units - take;
            filled := filled + take;
        END LOOP;
        IF filled > 0 THEN
            UPDATE inventory_stocklevel l
            SET reserved = l.reserved + filled, backordered = l.backordered - filled, updated_at = p_now
            WHERE l.id = lv.id;
            touched := touched || ARRAY[lv.product_id, lv.warehouse_id];
        END IF;
    END LOOP;
    -- 4. available_changed once per touched product (and every kit containing it) and warehouse
    WITH t AS (
        SELECT DISTINCT touched[2 * g - 1] AS pid, touched[2 * g] AS wid
        FROM generate_series(1, coalesce(array_length(touched, 1), 0) / 2) g
    ), targets AS (
        SELECT pid, wid FROM t
        UNION SELECT kc.kit_id, t.wid FROM t JOIN inventory_kitcomponent kc ON kc.component_id = t.pid
    ), ins AS (
        INSERT INTO fulfil_outboxevent
            (event_type, payload, merchant_id, status, handled, attempts, last_error, created_at)
        SELECT p_ev_avail,
               jsonb_build_object('merchant_id', p_m, 'product_id', targets.pid, 'warehouse_id', targets.wid),
               p_m, 'pending', '[]'::jsonb, 0, '', p_now
        FROM targets ORDER BY targets.pid, targets.wid
        RETURNING id
    )
    SELECT event_ids || coalesce(array_agg(ins.id ORDER BY ins.id), ARRAY[]::bigint[]) INTO event_ids FROM ins;
    SELECT coalesce(array_agg(DISTINCT p.id), ARRAY[]::bigint[]) INTO low_ids
    FROM inventory_product p
    WHERE p.low_stock_threshold IS NOT NULL AND p.id IN (
        SELECT touched[2 * g - 1] FROM generate_series(1, coalesce(array_length(touched, 1), 0) / 2) g);
END
$fn$;
"""

DROP = "DROP FUNCTION IF EXISTS inventory_release_fill(bigint, text, timestamptz, text, text);"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_channel_rule_constraints"),
        ("fulfil", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
