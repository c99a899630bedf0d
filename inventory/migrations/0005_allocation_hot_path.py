"""The allocation hot path, cheaper per call (issue 3):

* ``outbox_available_coalesce``: a partial unique index over PENDING, not yet claimed
  ``inventory.available_changed`` events keyed by their payload (merchant, product, warehouse), so a hot SKU has
  one such event waiting instead of thousands. Every writer of that event inserts with ``ON CONFLICT … DO
  UPDATE … WHERE false``: on a conflict nothing is written, but the waiting row is locked until the writer
  commits, so a dispatcher (which claims rows by setting ``dispatched_at`` before running handlers, see
  ``fulfil.outbox``) never claims it while a change it stands for is uncommitted; a change after the claim
  inserts a fresh row. Channels therefore always end with the right figure. Existing duplicates are moved out
  of the index first (``dispatched_at`` set, still pending: the sweeper dispatches them).
* ``inventory_release_fill`` v2: the same release-and-fill, with the coalesced event insert, declines kit
  products (kits built ahead live on the kit's own level: the general path), skips the kit-waiting check when
  no level has a backorder, and runs its statements on generic plans (``plan_cache_mode``; the custom plans
  were re-planned on every call). Returns ``event_ids`` of the events it inserted (to dispatch) only.
* ``inventory_stocklevel`` fillfactor 40: a level row is updated on every reservation and release; with room on
  its page the update is HOT (no new entry in the table's five indexes) instead of ~30 % of them not being.
"""

import importlib

from django.db import migrations

COALESCE_TYPE = "inventory.available_changed"

DEDUPE = r"""
UPDATE fulfil_outboxevent SET dispatched_at = now() WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY event_type, payload::text ORDER BY id) AS n
        FROM fulfil_outboxevent
        WHERE status = 'pending' AND dispatched_at IS NULL AND event_type = 'inventory.available_changed'
    ) d WHERE d.n > 1
);
"""

INDEX = r"""
CREATE UNIQUE INDEX IF NOT EXISTS outbox_available_coalesce ON fulfil_outboxevent (event_type, (payload::text))
WHERE status = 'pending' AND dispatched_at IS NULL AND event_type = 'inventory.available_changed';
"""

FILLFACTOR = "ALTER TABLE inventory_stocklevel SET (fillfactor = 40);"
FILLFACTOR_BACK = "ALTER TABLE inventory_stocklevel RESET (fillfactor);"

DROP_V1 = "DROP FUNCTION IF EXISTS inventory_release_fill(bigint, text, timestamptz, text, text);"

CREATE_V2 = r"""
CREATE FUNCTION inventory_release_fill(
    p_m bigint, p_ref text, p_now timestamptz, p_ev_avail text, p_ev_alloc text,
    OUT ok boolean, OUT freed integer, OUT event_ids bigint[], OUT low_ids bigint[]
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    r record;
    lv record;
    q record;
    free_units integer;
    take integer;
    filled integer;
    waiting boolean;
    touched bigint[] := ARRAY[]::bigint[];  -- pairs flattened: product, warehouse, product, warehouse, ...
    lvl_ids bigint[];
    ev_id bigint;
BEGIN
    ok := false; freed := 0; event_ids := ARRAY[]::bigint[]; low_ids := ARRAY[]::bigint[];
    IF EXISTS (
        SELECT 1 FROM inventory_allocation a JOIN inventory_product p ON p.id = a.product_id
        WHERE a.merchant_id = p_m AND a.reference = p_ref AND a.status = 'open'
          AND (a.parent_id IS NOT NULL OR a.picked > 0 OR p.is_kit
               OR EXISTS (SELECT 1 FROM inventory_allocation c WHERE c.parent_id = a.id))
    ) THEN
        RETURN;
    END IF;
    -- 1. levels, in pk order (and whether any has a backorder waiting)
    SELECT coalesce(array_agg(s.id ORDER BY s.id), ARRAY[]::bigint[]), coalesce(bool_or(s.backordered > 0), false)
    INTO lvl_ids, waiting FROM (
        SELECT l.id, l.backordered FROM inventory_stocklevel l
        WHERE l.merchant_id = p_m AND (l.product_id, l.warehouse_id) IN (
            SELECT a.product_id, a.warehouse_id FROM inventory_allocation a
            WHERE a.merchant_id = p_m AND a.reference = p_ref AND a.status = 'open')
        ORDER BY l.id FOR UPDATE OF l) s;
    -- a kit waiting on one of these levels (counted in its backorder): the general path fills kits
    IF waiting AND EXISTS (
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
    IF waiting THEN
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
                       jsonb_build_object('merchant_id', p_m, 'reference', a.reference,
                                          'product_id', a.product_id, 'warehouse_id', a.warehouse_id,
                                          'requested', a.requested, 'allocated', a.allocated),
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
    END IF;
    IF coalesce(array_length(touched, 1), 0) = 0 THEN
        RETURN;
    END IF;
    -- 4. available_changed once per touched product (and every kit containing it) and warehouse, coalesced
    --    with a waiting one (locked until commit; see the migration's docstring), in payload order
    WITH t AS (
        SELECT DISTINCT touched[2 * g - 1] AS pid, touched[2 * g] AS wid
        FROM generate_series(1, array_length(touched, 1) / 2) g
    ), targets AS (
        SELECT pid, wid FROM t
        UNION SELECT kc.kit_id, t.wid FROM t JOIN inventory_kitcomponent kc ON kc.component_id = t.pid
    ), ins AS (
        INSERT INTO fulfil_outboxevent AS o
            (event_type, payload, merchant_id, status, handled, attempts, last_error, created_at)
        SELECT p_ev_avail, x.payload, p_m, 'pending', '[]'::jsonb, 0, '', p_now
        FROM (SELECT jsonb_build_object('merchant_id', p_m, 'product_id', targets.pid,
                                        'warehouse_id', targets.wid) AS payload FROM targets) x
        ORDER BY x.payload::text COLLATE "C"
        ON CONFLICT (event_type, (payload::text))
            WHERE status = 'pending' AND dispatched_at IS NULL AND event_type = 'inventory.available_changed'
        DO UPDATE SET attempts = o.attempts WHERE false
        RETURNING id
    )
    SELECT event_ids || coalesce(array_agg(ins.id ORDER BY ins.id), ARRAY[]::bigint[]) INTO event_ids FROM ins;
    SELECT coalesce(array_agg(DISTINCT p.id), ARRAY[]::bigint[]) INTO low_ids
    FROM inventory_product p
    WHERE p.low_stock_threshold IS NOT NULL AND p.id IN (
        SELECT touched[2 * g - 1] FROM generate_series(1, array_length(touched, 1) / 2) g);
END
$fn$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in (DEDUPE, INDEX, FILLFACTOR, DROP_V1, CREATE_V2):
        schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    v1 = importlib.import_module("inventory.migrations.0003_release_fill_function")
    for sql in (DROP_V1, v1.CREATE, FILLFACTOR_BACK, "DROP INDEX IF EXISTS outbox_available_coalesce;"):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_kit_build"),
        ("fulfil", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
