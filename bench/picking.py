"""Pick routing and batching benchmark (pure algorithms; no database needed).

Warehouses: a single-block layout of 10 aisles × 30 bays, and a 2-block layout of 10 aisles × 2 × 15 bays
(3 m between aisle centres, 1 m bays, 2 m cross aisles, depot at the front of the first aisle).
Order profiles: e-commerce (1–3 lines) and B2B (5–20 lines), locations uniformly random.

Figures:
- gap_to_optimal_pct: our single-block route (Ratliff–Rosenthal) vs Held–Karp on the shortest-path matrix,
  on lists of 4–12 stops (≤ 8 are solved exactly by Held–Karp in production too; 9–12 by local search) (mean % over instances); gap_multi_block_pct: the same for the 2-block layout.
- vs_s_shape_pct: how much shorter our routes are than S-shape (mean of 1 − ours/S-shape, %), on B2B
  pick lists and on 8-order e-commerce batches, single block; also vs largest gap and combined, and the
  2-block figures.
- batching_saving_pct: travel per order with Clarke–Wright batching (8-tote cart) vs single-order picking,
  e-commerce profile, 80 orders per wave.
- routes_per_s: 30-stop lists, single block (and 2-block), per second of wall time and (``_cpu``) of the
  process's CPU time — the wall figure drops when other work shares the cores.

Run: .venv/bin/python bench/picking.py [--quick]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from _common import emit

from warehouse.batching import Cart, OrderPicks, batch_orders
from warehouse.routing import Layout, Stop, combined, largest_gap, optimal_length, plan_route, s_shape

QUICK = "--quick" in sys.argv
rnd = random.Random(20240607)

SINGLE = Layout.grid(aisles=10, bays=30, blocks=1)
SINGLE_BAYS = 30
MULTI = Layout.grid(aisles=10, bays=15, blocks=2)
MULTI_BAYS = 15


def random_stops(layout: Layout, bays: int, n: int, prefix: object = "") -> list[Stop]:
    stops = []
    for i in range(n):
        block = rnd.randrange(layout.blocks)
        point = layout.bay_point(
            aisle=rnd.randrange(len(layout.aisle_x)), block=block, bay=rnd.randrange(bays), bays=bays
        )
        stops.append(Stop((prefix, i), point))
    return stops


def ecommerce_orders(layout: Layout, bays: int, count: int) -> list[OrderPicks]:
    orders = []
    for o in range(count):
        lines = rnd.choice([1, 1, 1, 1, 2, 2, 3])
        orders.append(
            OrderPicks(
                key=o, stops=tuple(random_stops(layout, bays, lines, o)), volume=rnd.uniform(500, 15000)
            )
        )
    return orders


def pct_shorter(ours: float, theirs: float) -> float:
    return 100.0 * (1 - ours / theirs) if theirs > 0 else 0.0


def gap(layout: Layout, bays: int, instances: int) -> tuple[float, float]:
    gaps = []
    for _ in range(instances):
        stops = random_stops(layout, bays, rnd.randint(4, 12))
        ours = plan_route(layout, stops).length
        best = optimal_length(layout, stops)
        gaps.append(100.0 * (ours - best) / best)
    return statistics.mean(gaps), max(gaps)


def versus(layout: Layout, bays: int, lists: list[list[Stop]]) -> dict[str, float]:
    out: dict[str, list[float]] = {"s_shape": [], "largest_gap": [], "combined": []}
    for stops in lists:
        ours = plan_route(layout, stops).length
        out["s_shape"].append(pct_shorter(ours, s_shape(layout, stops).length))
        out["largest_gap"].append(pct_shorter(ours, largest_gap(layout, stops).length))
        out["combined"].append(pct_shorter(ours, combined(layout, stops).length))
    return {k: statistics.mean(v) for k, v in out.items()}


def pick_lists(layout: Layout, bays: int, n: int) -> list[list[Stop]]:
    lists = [random_stops(layout, bays, rnd.randint(5, 20)) for _ in range(n)]  # B2B orders
    for _ in range(n):  # e-commerce batches of 8 orders
        stops: list[Stop] = []
        for o in range(8):
            stops += random_stops(layout, bays, rnd.choice([1, 1, 1, 1, 2, 2, 3]), o)
        lists.append(stops)
    return lists


def throughput(layout: Layout, bays: int, seconds: float) -> tuple[float, float]:
    """Routes per second of wall time and of this process's CPU time: on a shared machine the wall figure
    falls with the load (the CPU one says what one free core does)."""
    lists = [random_stops(layout, bays, 30) for _ in range(50)]
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        plan_route(layout, lists[done % len(lists)])
        done += 1
    return done / (time.perf_counter() - start), done / max(1e-9, time.process_time() - cpu)


def main() -> None:
    n_gap = 20 if QUICK else 60
    n_lists = 30 if QUICK else 100
    gap_single, gap_single_max = gap(SINGLE, SINGLE_BAYS, n_gap)
    gap_multi, gap_multi_max = gap(MULTI, MULTI_BAYS, n_gap)
    vs_single = versus(SINGLE, SINGLE_BAYS, pick_lists(SINGLE, SINGLE_BAYS, n_lists // 2))
    vs_multi = versus(MULTI, MULTI_BAYS, pick_lists(MULTI, MULTI_BAYS, n_lists // 2))

    savings = []
    waves = 2 if QUICK else 5
    for _ in range(waves):
        plan = batch_orders(SINGLE, ecommerce_orders(SINGLE, SINGLE_BAYS, 80), Cart(totes=8, volume=250_000))
        savings.append(plan.saving_pct)

    rps, rps_cpu = throughput(SINGLE, SINGLE_BAYS, 3.0 if QUICK else 8.0)
    rps_multi, rps_multi_cpu = throughput(MULTI, MULTI_BAYS, 3.0 if QUICK else 8.0)
    emit(
        {
            "bench": "picking",
            "gap_to_optimal_pct": round(gap_single, 4),
            "gap_to_optimal_max_pct": round(gap_single_max, 4),
            "gap_multi_block_pct": round(gap_multi, 4),
            "gap_multi_block_max_pct": round(gap_multi_max, 4),
            "vs_s_shape_pct": round(vs_single["s_shape"], 2),
            "vs_largest_gap_pct": round(vs_single["largest_gap"], 2),
            "vs_combined_pct": round(vs_single["combined"], 2),
            "multi_vs_s_shape_pct": round(vs_multi["s_shape"], 2),
            "multi_vs_largest_gap_pct": round(vs_multi["largest_gap"], 2),
            "multi_vs_combined_pct": round(vs_multi["combined"], 2),
            "batching_saving_pct": round(statistics.mean(savings), 2),
            "routes_per_s": round(rps, 1),
            "routes_per_s_multi_block": round(rps_multi, 1),
            "routes_per_s_cpu": round(rps_cpu, 1),
            "routes_per_s_multi_block_cpu": round(rps_multi_cpu, 1),
        }
    )


if __name__ == "__main__":
    main()
