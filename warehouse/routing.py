"""Pick routes through a warehouse of parallel aisles — pure Python, no Django.

The layout (`Layout`) is the classic one of the order-picking literature: vertical pick aisles at
``aisle_x`` (the picker walks the aisle's centre line and picks from both racks), horizontal cross
aisles at ``cross_y`` (``cross_y[0]`` is the front one, ``cross_y[-1]`` the back one; k + 1 cross aisles
make k blocks), and a depot (where the cart starts and ends) on the front cross aisle.

Solvers:

- `rr_route` — Ratliff & Rosenthal (1983): the exact dynamic program for single-block layouts. It
  builds a minimum-length tour subgraph aisle by aisle, keeping for each aisle boundary one best
  partial subgraph per equivalence class (degree parity of the aisle's front/back nodes and how many
  connected components touch them), then walks the chosen multigraph with Hierholzer's algorithm to get
  the visiting order. Optimal: it equals Held–Karp on the shortest-path distance matrix (tested).
- `improve_sequence` — 2-opt + Or-opt local search on the shortest-path distance matrix, started from
  the best of the classic heuristics and nearest neighbour. Used for multi-block layouts, and whenever
  the pick list has precedence classes (priority first, fragile last) — moves never break the classes.
- `held_karp` — exact TSP by dynamic programming over subsets; for ≤ ~12 stops (measuring the gap,
  and used directly for tiny multi-block lists).
- `s_shape`, `largest_gap`, `combined` — the classic heuristics, for comparison. Each returns a visiting
  order; its length is measured with shortest-path legs between consecutive stops, which is never more
  than the heuristic's literal walk (so comparisons against them are, if anything, generous to them).

`plan_route(layout, stops)` picks the right solver and returns a `Route`.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

EPS = 1e-9

# Precedence classes of a stop on the pick list: visited in this order.
RANK_PRIORITY = 0
RANK_NORMAL = 1
RANK_LAST = 2  # fragile (and crushable-on-top) items go last, on top of the cart


@dataclass(frozen=True)
class Layout:
    aisle_x: tuple[float, ...]
    cross_y: tuple[float, ...]
    depot_x: float = 0.0

    def __post_init__(self) -> None:
        if len(self.aisle_x) < 1 or len(self.cross_y) < 2:
            raise ValueError("a layout needs at least one aisle and two cross aisles")
        if list(self.aisle_x) != sorted(self.aisle_x) or list(self.cross_y) != sorted(self.cross_y):
            raise ValueError("aisle_x and cross_y must be increasing")

    @classmethod
    def grid(
        cls,
        *,
        aisles: int,
        bays: int,
        blocks: int = 1,
        aisle_width: float = 3.0,
        bay_depth: float = 1.0,
        cross_width: float = 2.0,
        depot_aisle: int = 0,
    ) -> Layout:
        """A generated layout: ``aisles`` aisles ``aisle_width`` m apart, each block ``bays`` bays of
        ``bay_depth`` m deep, cross aisles ``cross_width`` m wide; depot at the front of ``depot_aisle``."""
        xs = tuple(i * aisle_width for i in range(aisles))
        ys = [0.0]
        for _ in range(blocks):
            ys.append(ys[-1] + bays * bay_depth + cross_width)
        return cls(aisle_x=xs, cross_y=tuple(ys), depot_x=xs[depot_aisle])

    @property
    def blocks(self) -> int:
        return len(self.cross_y) - 1

    @property
    def front(self) -> float:
        return self.cross_y[0]

    def snap(self, x: float, y: float) -> Point:
        """The point in the nearest aisle from which a location at floor position (x, y) is picked."""
        i = bisect.bisect_left(self.aisle_x, x)
        if i == len(self.aisle_x) or (i > 0 and x - self.aisle_x[i - 1] <= self.aisle_x[i] - x):
            i -= 1
        y = min(max(y, self.cross_y[0]), self.cross_y[-1])
        return Point(aisle=i, y=y)

    def bay_point(self, *, aisle: int, block: int, bay: int, bays: int) -> Point:
        """Point of bay ``bay`` (0-based, front to back) of ``block`` in a generated grid layout."""
        lo, hi = self.cross_y[block], self.cross_y[block + 1]
        step = (hi - lo) / (bays + 1)
        return Point(aisle=aisle, y=lo + step * (bay + 1))

    def block_of(self, y: float) -> int:
        b = bisect.bisect_right(self.cross_y, y) - 1
        return min(max(b, 0), self.blocks - 1)


@dataclass(frozen=True)
class Point:
    aisle: int
    y: float


@dataclass(frozen=True)
class Stop:
    """One place the picker must visit. ``key`` is the caller's id (a pick task, a location...)."""

    key: Hashable
    point: Point
    rank: int = RANK_NORMAL


@dataclass
class Route:
    order: list[Hashable]  # stop keys in walk order (depot implied at both ends)
    length: float
    method: str
    legs: list[float] = field(default_factory=list)


# --- Distances ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _cross_table(layout: Layout) -> tuple[list[list[float]], int]:
    """Shortest distances between the cross-aisle ends of every aisle (node ``c * A + a``: cross aisle c,
    aisle a) and the depot (node ``C * A``), computed once per layout (a frozen value: equal layouts —
    the same warehouse loaded twice — share it)."""
    n_a, n_c = len(layout.aisle_x), len(layout.cross_y)
    xs = [layout.aisle_x[a] for c in range(n_c) for a in range(n_a)] + [layout.depot_x]
    cs = [c for c in range(n_c) for _ in range(n_a)] + [0]
    g = Distances(layout)
    table = [[g._grid(xs[u], cs[u], xs[v], cs[v]) for v in range(len(xs))] for u in range(len(xs))]
    return table, n_c * n_a


class Distances:
    """Shortest walking distances on the aisle graph between points and the depot (index 0). The
    cross-aisle part comes from a per-layout table (``_cross_table``); a point adds its walk to the
    two ends of its aisle segment."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self._table: list[list[float]] | None = None
        self._depot = 0
        self._seen: dict[Point | None, tuple] = {}

    def _exits(self, p: Point | None) -> list[tuple[int, float, float]]:
        lay = self.layout
        if p is None:  # the depot, on the front cross aisle
            return [(0, lay.depot_x, 0.0)]
        x = lay.aisle_x[p.aisle]
        b = lay.block_of(p.y)
        return [(b, x, p.y - lay.cross_y[b]), (b + 1, x, lay.cross_y[b + 1] - p.y)]

    def _grid(self, x1: float, c1: int, x2: float, c2: int) -> float:
        lay = self.layout
        if c1 == c2:
            return abs(x1 - x2)
        dy = abs(lay.cross_y[c1] - lay.cross_y[c2])
        lo, hi = min(x1, x2), max(x1, x2)
        i = bisect.bisect_left(lay.aisle_x, lo - EPS)
        if i < len(lay.aisle_x) and lay.aisle_x[i] <= hi + EPS:
            return hi - lo + dy
        best = math.inf
        for k in (i - 1, i):
            if 0 <= k < len(lay.aisle_x):
                xk = lay.aisle_x[k]
                best = min(best, abs(x1 - xk) + abs(xk - x2) + dy)
        return best

    def _ends(self, p: Point | None) -> tuple:
        """(aisle, block, y, node1, d1, node2, d2) of a point; the depot has one end."""
        got = self._seen.get(p)
        if got is not None:
            return got
        got = self._seen[p] = self._ends_of(p)
        return got

    def _ends_of(self, p: Point | None) -> tuple:
        if self._table is None:
            self._table, self._depot = _cross_table(self.layout)
        if p is None:
            return (-1, -1, 0.0, self._depot, 0.0, self._depot, 0.0)
        lay = self.layout
        n_a = len(lay.aisle_x)
        b = lay.block_of(p.y)
        return (
            p.aisle,
            b,
            p.y,
            b * n_a + p.aisle,
            p.y - lay.cross_y[b],
            (b + 1) * n_a + p.aisle,
            lay.cross_y[b + 1] - p.y,
        )

    def _pair(self, e: tuple, f: tuple) -> float:
        a1, b1, y1, u1, du1, v1, dv1 = e
        a2, b2, y2, u2, du2, v2, dv2 = f
        if a1 == a2 and a1 >= 0 and (b1 == b2 or abs(y1 - y2) < EPS):
            return abs(y1 - y2)
        t = self._table
        assert t is not None
        ru, rv = t[u1], t[v1]
        return min(du1 + du2 + ru[u2], du1 + dv2 + ru[v2], dv1 + du2 + rv[u2], dv1 + dv2 + rv[v2])

    def between(self, p: Point | None, q: Point | None) -> float:
        return self._pair(self._ends(p), self._ends(q))

    def matrix(self, points: Sequence[Point | None]) -> list[list[float]]:
        ends = [self._ends(p) for p in points]
        n = len(points)
        m = [[0.0] * n for _ in range(n)]
        pair = self._pair
        for i in range(n):
            ei, row = ends[i], m[i]
            for j in range(i + 1, n):
                row[j] = m[j][i] = pair(ei, ends[j])
        return m


def tour_length(dist: list[list[float]], seq: Sequence[int]) -> float:
    """Length of depot (0) → seq → depot on a distance matrix."""
    total, prev = 0.0, 0
    for i in seq:
        total += dist[prev][i]
        prev = i
    return total + dist[prev][0]


# --- Ratliff–Rosenthal exact DP (single block) -------------------------------------------------------------

# Degree classes of a node in a partial tour subgraph.
_Z, _ODD, _EVEN = 0, 1, 2


def _add_deg(d: int, k: int) -> int:
    if k == 0:
        return d
    if k == 2:
        return _EVEN if d in (_Z, _EVEN) else _ODD
    return _ODD if d in (_Z, _EVEN) else _EVEN  # k == 1


@dataclass(frozen=True)
class _AisleOption:
    name: str
    add_a: int
    add_b: int
    join: bool
    cost: float
    seg_mult: tuple[int, ...]  # multiplicity of each segment a–p1–…–pm–b


def _aisle_options(ts: list[float], length: float, traversable: bool) -> list[_AisleOption]:
    pts = [0.0, *ts, length]
    m = len(ts)
    nseg = m + 1
    opts: list[_AisleOption] = []
    if traversable:
        opts.append(_AisleOption("once", 1, 1, True, length, (1,) * nseg))
        opts.append(_AisleOption("twice", 2, 2, True, 2 * length, (2,) * nseg))
    for k in range(nseg):
        if not traversable and k != m:
            continue
        gap = pts[k + 1] - pts[k]
        mult = tuple(0 if s == k else 2 for s in range(nseg))
        opts.append(
            _AisleOption(f"gap{k}", 2 if k > 0 else 0, 2 if k < m else 0, False, 2 * (length - gap), mult)
        )
    return opts


State = tuple[int, int, bool]  # (degree class of front node, of back node, front and back connected)


def _after_aisle(state: State, opt: _AisleOption) -> State:
    pa, pb, same = state
    na, nb = _add_deg(pa, opt.add_a), _add_deg(pb, opt.add_b)
    joined = na != _Z and nb != _Z and (opt.join or (pa != _Z and pb != _Z and same))
    return (na, nb, joined)


def _after_cross(state: State, kf: int, kb: int) -> State | None:
    pa, pb, same = state
    fa, fb = _add_deg(pa, kf), _add_deg(pb, kb)
    if fa == _ODD or fb == _ODD:
        return None  # a finished node must have even degree
    if pa != _Z and kf == 0 and not (pb != _Z and same and kb > 0):
        return None  # the front node's component would be cut off
    if pb != _Z and kb == 0 and not (pa != _Z and same and kf > 0):
        return None
    na, nb = kf, kb  # 0, 1 (odd) or 2 (even) — same encoding
    joined = na != _Z and nb != _Z and pa != _Z and pb != _Z and same
    return (na, nb, joined)


def _final_ok(state: State) -> bool:
    pa, pb, same = state
    if pa == _ODD or pb == _ODD or (pa == _Z and pb == _Z):
        return False
    return pa == _Z or pb == _Z or same


def rr_route(layout: Layout, stops: Sequence[Stop]) -> Route:
    """Optimal route for a single-block layout (Ratliff & Rosenthal 1983)."""
    if layout.blocks != 1:
        raise ValueError("Ratliff–Rosenthal needs a single-block layout")
    if not stops:
        return Route(order=[], length=0.0, method="ratliff-rosenthal")
    y0, y1 = layout.cross_y
    length = y1 - y0

    # Columns: real aisles, plus a non-traversable virtual column for a depot between aisles.
    cols_x = list(layout.aisle_x)
    traversable = [True] * len(cols_x)
    depot_col = bisect.bisect_left(cols_x, layout.depot_x - EPS)
    if depot_col < len(cols_x) and abs(cols_x[depot_col] - layout.depot_x) < EPS:
        aisle_to_col = list(range(len(cols_x)))
    else:
        cols_x.insert(depot_col, layout.depot_x)
        traversable.insert(depot_col, False)
        aisle_to_col = [i if i < depot_col else i + 1 for i in range(len(layout.aisle_x))]

    # Picks per column at relative positions; the depot is a "pick" at position 0 of its column.
    col_picks: dict[int, dict[float, list[Hashable]]] = defaultdict(lambda: defaultdict(list))
    depot_key = object()
    col_picks[depot_col][0.0].append(depot_key)
    for s in stops:
        col_picks[aisle_to_col[s.point.aisle]][round(s.point.y - y0, 9)].append(s.key)
    lo, hi = min(col_picks), max(col_picks)

    ts_by_col = {c: sorted(col_picks[c]) if c in col_picks else [] for c in range(lo, hi + 1)}
    options = {c: _aisle_options(ts_by_col[c], length, traversable[c]) for c in range(lo, hi + 1)}

    # Forward DP with back-pointers. best[state] = (cost, back-pointer chain id)
    chain: list[tuple[int, str, object, int]] = []  # (col, kind, detail, parent)
    empty: State = (_Z, _Z, False)
    cur: dict[State, tuple[float, int]] = {empty: (0.0, -1)}
    for c in range(lo, hi + 1):
        nxt: dict[State, tuple[float, int]] = {}
        for st, (cost, ptr) in cur.items():
            for opt in options[c]:
                ns = _after_aisle(st, opt)
                if ns == empty:
                    continue
                nc = cost + opt.cost
                if ns not in nxt or nc < nxt[ns][0] - EPS:
                    chain.append((c, "aisle", opt, ptr))
                    nxt[ns] = (nc, len(chain) - 1)
        cur = nxt
        if c == hi:
            break
        width = cols_x[c + 1] - cols_x[c]
        nxt = {}
        for st, (cost, ptr) in cur.items():
            for kf in (0, 1, 2):
                for kb in (0, 1, 2):
                    ns = _after_cross(st, kf, kb)
                    if ns is None or ns == empty:
                        continue
                    nc = cost + (kf + kb) * width
                    if ns not in nxt or nc < nxt[ns][0] - EPS:
                        chain.append((c, "cross", (kf, kb), ptr))
                        nxt[ns] = (nc, len(chain) - 1)
        cur = nxt

    finals = [(cost, ptr) for st, (cost, ptr) in cur.items() if _final_ok(st)]
    best_cost, ptr = min(finals, key=lambda t: t[0])

    # Rebuild the multigraph and walk it.
    adj: dict[tuple, list[tuple[tuple, int]]] = defaultdict(list)
    edge_id = 0

    def add_edge(u: tuple, v: tuple, times: int) -> None:
        nonlocal edge_id
        for _ in range(times):
            adj[u].append((v, edge_id))
            adj[v].append((u, edge_id))
            edge_id += 1

    while ptr != -1:
        c, kind, detail, ptr = chain[ptr]
        if kind == "aisle":
            assert isinstance(detail, _AisleOption)
            nodes = [("a", c)] + [("p", c, t) for t in ts_by_col[c]] + [("b", c)]
            for s_i, mult in enumerate(detail.seg_mult):
                add_edge(nodes[s_i], nodes[s_i + 1], mult)
        else:
            kf, kb = detail  # type: ignore[misc]
            add_edge(("a", c), ("a", c + 1), kf)
            add_edge(("b", c), ("b", c + 1), kb)

    walk = _euler_circuit(adj, ("p", depot_col, 0.0))
    order: list[Hashable] = []
    seen: set[tuple] = set()
    for node in walk:
        if node[0] == "p" and node not in seen:
            seen.add(node)
            for key in col_picks[node[1]][node[2]]:
                if key is not depot_key:
                    order.append(key)
    return Route(order=order, length=best_cost, method="ratliff-rosenthal")


def _euler_circuit(adj: dict[tuple, list[tuple[tuple, int]]], start: tuple) -> list[tuple]:
    used: set[int] = set()
    pos: dict[tuple, int] = defaultdict(int)
    stack, out = [start], []
    while stack:
        u = stack[-1]
        edges = adj[u]
        i = pos[u]
        while i < len(edges) and edges[i][1] in used:
            i += 1
        pos[u] = i
        if i == len(edges):
            out.append(stack.pop())
        else:
            v, eid = edges[i]
            used.add(eid)
            stack.append(v)
    out.reverse()
    return out


# --- Exact TSP on the distance matrix (small instances) ---------------------------------------------------


def held_karp(dist: list[list[float]]) -> tuple[float, list[int]]:
    """Optimal tour from and back to node 0 over nodes 1..n-1. O(2^n · n²): keep n ≤ ~13."""
    n = len(dist) - 1
    if n == 0:
        return 0.0, []
    full = 1 << n
    inf = math.inf
    cost = [[inf] * n for _ in range(full)]
    parent = [[-1] * n for _ in range(full)]
    for j in range(n):
        cost[1 << j][j] = dist[0][j + 1]
    for mask in range(1, full):
        row = cost[mask]
        for j in range(n):
            cj = row[j]
            if cj == inf or not (mask >> j) & 1:
                continue
            dj = dist[j + 1]
            for k in range(n):
                if (mask >> k) & 1:
                    continue
                nm = mask | (1 << k)
                c = cj + dj[k + 1]
                if c < cost[nm][k]:
                    cost[nm][k] = c
                    parent[nm][k] = j
    last_row = cost[full - 1]
    best, last = min((last_row[j] + dist[j + 1][0], j) for j in range(n))
    seq, mask, j = [], full - 1, last
    while j != -1:
        seq.append(j + 1)
        pj = parent[mask][j]
        mask ^= 1 << j
        j = pj
    seq.reverse()
    return best, seq


# --- Local search (2-opt + Or-opt) respecting precedence classes -----------------------------------------


def improve_sequence(
    dist: list[list[float]], seq: list[int], ranks: Sequence[int] | None = None
) -> list[int]:
    """2-opt and Or-opt (segments of 1–3, best insertion, optionally reversed) until no improving move;
    moves keep every stop inside the run of its precedence class. ``ranks[i]`` is the class of node i
    (node 0 = depot); ``seq`` must already be sorted into its classes.

    Moves are scored by their delta only (O(1) each, on the matrix rows), and since no move takes a stop
    out of its class run, the class at each tour position never changes: the runs and the insertion
    positions allowed for each class are computed once."""
    tour = [0, *seq, 0]
    n = len(tour)
    if n <= 4:
        return list(seq)
    rp = [0] * n if ranks is None else [0, *(ranks[t] for t in seq), 0]
    # end of the class run each position belongs to (2-opt never reverses across classes)
    run_end = [0] * n
    last = n - 2
    for pos in range(n - 2, 0, -1):
        if pos < n - 2 and rp[pos] != rp[pos + 1]:
            last = pos
        run_end[pos] = last
    # edges (k, k+1) a segment of class r may be inserted into (the depot counts as any class): with the
    # classes sorted along the tour, one contiguous range [lo, hi] per class
    slots: dict[int, tuple[int, int]] = {}
    for r in set(rp[1:-1]):
        ks = [k for k in range(n - 1) if (k == 0 or rp[k] <= r) and (k + 1 == n - 1 or rp[k + 1] >= r)]
        slots[r] = (ks[0], ks[-1])
    inf = math.inf
    improved = True
    while improved:
        improved = False
        # 2-opt: reverse tour[i..j] (best j for each i)
        edge = [dist[tour[k]][tour[k + 1]] for k in range(n - 1)]
        i = 1
        while i < n - 2:
            hi = run_end[i]
            if hi <= i:
                i += 1
                continue
            da, db = dist[tour[i - 1]], dist[tour[i]]
            dab = edge[i - 1]
            vals = [
                da[c] + db[d] - e
                for c, d, e in zip(
                    tour[i + 1 : hi + 1], tour[i + 2 : hi + 2], edge[i + 1 : hi + 1], strict=True
                )
            ]
            best = min(vals)
            if best - dab < -1e-7:
                j = i + 1 + vals.index(best)
                tour[i : j + 1] = tour[i : j + 1][::-1]
                edge = [dist[tour[k]][tour[k + 1]] for k in range(n - 1)]
                improved = True
            else:
                i += 1
        # Or-opt: move a segment of length 1..3 elsewhere (optionally reversed), best insertion
        for seg_len in (1, 2, 3):
            i = 1
            while i + seg_len <= n - 1:
                j_end = i + seg_len - 1
                r = rp[i]
                if rp[j_end] != r:
                    i += 1
                    continue
                p, q = tour[i - 1], tour[j_end + 1]
                s0, s1 = tour[i], tour[j_end]
                r0, r1 = dist[s0], dist[s1]
                remove_gain = r0[p] + r1[q] - dist[p][q]
                lo, hi = slots[r]
                us, vs, es = tour[lo : hi + 1], tour[lo + 1 : hi + 2], edge[lo : hi + 1]
                fwd = [r0[u] + r1[v] - e for u, v, e in zip(us, vs, es, strict=True)]
                # a single stop reversed is itself
                rev = [r1[u] + r0[v] - e for u, v, e in zip(us, vs, es, strict=True)] if seg_len > 1 else fwd
                for k in range(max(i - 1, lo), min(j_end, hi) + 1):  # the segment's own place
                    fwd[k - lo] = rev[k - lo] = inf
                bf, br = min(fwd), min(rev)
                if min(bf, br) < remove_gain - 1e-7:
                    best_rev = br < bf
                    best_at = lo + (rev.index(br) if best_rev else fwd.index(bf))
                    segment = tour[i : j_end + 1]
                    if best_rev:
                        segment.reverse()
                    rest = tour[:i] + tour[j_end + 1 :]
                    k = best_at if best_at < i else best_at - seg_len
                    tour = rest[: k + 1] + segment + rest[k + 1 :]
                    edge = [dist[tour[k]][tour[k + 1]] for k in range(n - 1)]
                    improved = True
                else:
                    i += 1
    return tour[1:-1]


def nearest_neighbour(dist: list[list[float]], nodes: Sequence[int], start: int = 0) -> list[int]:
    left, seq, cur = set(nodes), [], start
    while left:
        nxt = min(left, key=lambda j: (dist[cur][j], j))
        seq.append(nxt)
        left.discard(nxt)
        cur = nxt
    return seq


# --- Classic heuristics ------------------------------------------------------------------------------------
#
# Each builds the picker's literal walk — waypoints on the aisle graph (cross-aisle ends of traversed
# aisles, the picks, the depot) joined by shortest paths — and returns it as a Route whose length is that
# walk's length. Multi-block versions work block by block from the farthest to the nearest (Roodbergen &
# de Koster 2001); the picker enters each block on the cross aisle shared with the previous one.


class _Walk:
    def __init__(self, layout: Layout):
        self.layout = layout
        self.d = Distances(layout)
        self.pos: Point | None = None  # depot
        self.length = 0.0
        self.order: list[Hashable] = []

    def go(self, p: Point | None) -> None:
        self.length += self.d.between(self.pos, p)
        self.pos = p

    def pick(self, stops: Sequence[Stop], *, up: bool) -> None:
        for s in sorted(stops, key=lambda s: s.point.y, reverse=not up):
            self.go(s.point)
            self.order.append(s.key)

    def route(self, method: str) -> Route:
        self.go(None)
        return Route(order=self.order, length=self.length, method=method)


def _by_block_aisle(layout: Layout, stops: Sequence[Stop]) -> dict[int, dict[int, list[Stop]]]:
    out: dict[int, dict[int, list[Stop]]] = defaultdict(lambda: defaultdict(list))
    for s in stops:
        out[layout.block_of(s.point.y)][s.point.aisle].append(s)
    return out


def _nearest_first(aisles: list[int], layout: Layout, x: float) -> list[int]:
    """Aisles in sweep order starting from the end nearer the picker's x."""
    left, right = layout.aisle_x[aisles[0]], layout.aisle_x[aisles[-1]]
    return aisles if abs(x - left) <= abs(x - right) else list(reversed(aisles))


def _x(walk: _Walk) -> float:
    return walk.layout.depot_x if walk.pos is None else walk.layout.aisle_x[walk.pos.aisle]


def s_shape(layout: Layout, stops: Sequence[Stop]) -> Route:
    """S-shape (traversal): every aisle with picks is traversed entirely, entered from the side the picker
    is on; in the block nearest the depot the last aisle is a return aisle when the picker would
    otherwise end on the far side."""
    grid = _by_block_aisle(layout, stops)
    w = _Walk(layout)
    blocks = sorted(grid, reverse=True)
    for bi, b in enumerate(blocks):
        lo, hi = layout.cross_y[b], layout.cross_y[b + 1]
        side = 0 if w.pos is None or w.pos.y <= lo + EPS else 1
        aisles = _nearest_first(sorted(grid[b]), layout, _x(w))
        for ai, a in enumerate(aisles):
            last = bi == len(blocks) - 1 and ai == len(aisles) - 1
            if side == 0:
                w.go(Point(a, lo))
                w.pick(grid[b][a], up=True)
                if last:
                    w.go(Point(a, lo))  # return aisle
                else:
                    w.go(Point(a, hi))
                    side = 1
            else:
                w.go(Point(a, hi))
                w.pick(grid[b][a], up=False)
                w.go(Point(a, lo))
                side = 0
    return w.route("s-shape")


def largest_gap(layout: Layout, stops: Sequence[Stop]) -> Route:
    """Largest gap: per block, the first and last aisles with picks are traversed; every aisle between is
    entered from the back up to its largest gap between picks, and later from the front up to that gap."""
    grid = _by_block_aisle(layout, stops)
    w = _Walk(layout)
    for b in sorted(grid, reverse=True):
        lo, hi = layout.cross_y[b], layout.cross_y[b + 1]
        aisles = _nearest_first(sorted(grid[b]), layout, _x(w))
        if len(aisles) == 1:
            a = aisles[0]
            ys = [s.point.y for s in grid[b][a]]
            if b == 0 or (hi - min(ys)) > (max(ys) - lo):
                w.go(Point(a, lo))
                w.pick(grid[b][a], up=True)
                w.go(Point(a, lo))
            else:  # enter from the back cross aisle, then come down
                w.go(Point(a, hi))
                w.pick(grid[b][a], up=False)
                w.go(Point(a, lo))
            continue
        fronts: dict[int, list[Stop]] = {}
        backs: dict[int, list[Stop]] = {}
        for a in aisles[1:-1]:
            picks = sorted(grid[b][a], key=lambda s: s.point.y)
            ys = [lo] + [s.point.y for s in picks] + [hi]
            g = max(range(len(ys) - 1), key=lambda i: ys[i + 1] - ys[i])
            fronts[a], backs[a] = picks[:g], picks[g:]
        first, last = aisles[0], aisles[-1]
        w.go(Point(first, lo))
        w.pick(grid[b][first], up=True)
        w.go(Point(first, hi))
        for a in aisles[1:-1]:
            if backs[a]:
                w.go(Point(a, hi))
                w.pick(backs[a], up=False)
                w.go(Point(a, hi))
        w.go(Point(last, hi))
        w.pick(grid[b][last], up=False)
        w.go(Point(last, lo))
        for a in reversed(aisles[1:-1]):
            if fronts[a]:
                w.go(Point(a, lo))
                w.pick(fronts[a], up=True)
                w.go(Point(a, lo))
    return w.route("largest-gap")


def combined(layout: Layout, stops: Sequence[Stop]) -> Route:
    """Combined (Roodbergen & de Koster): per block, sweeping from the nearer end, each aisle with picks is
    either traversed (changing side) or entered and left from the picker's side, chosen by a dynamic
    program on the side; the picker leaves each block on its front cross aisle."""
    grid = _by_block_aisle(layout, stops)
    w = _Walk(layout)
    for b in sorted(grid, reverse=True):
        lo, hi = layout.cross_y[b], layout.cross_y[b + 1]
        length = hi - lo
        aisles = _nearest_first(sorted(grid[b]), layout, _x(w))
        entry = 0 if w.pos is None or w.pos.y <= lo + EPS else 1
        # the walk to the first aisle is common to all choices; DP over the aisles after it
        best: dict[int, tuple[float, list[str]]] = {entry: (0.0, [])}
        for idx, a in enumerate(aisles):
            ys = [s.point.y for s in grid[b][a]]
            reach = {0: 2 * (max(ys) - lo), 1: 2 * (hi - min(ys))}
            step = abs(layout.aisle_x[a] - layout.aisle_x[aisles[idx - 1]]) if idx else 0.0
            nb: dict[int, tuple[float, list[str]]] = {}
            for sd, (c, path) in best.items():
                for ns, extra, how in ((1 - sd, length, "traverse"), (sd, reach[sd], "return")):
                    cand = (c + step + extra, [*path, how])
                    if ns not in nb or cand[0] < nb[ns][0] - EPS:
                        nb[ns] = cand
            best = nb
        total = {sd: c + (length if sd == 1 else 0.0) for sd, (c, _) in best.items()}
        end = min(total, key=lambda sd: total[sd])
        side = entry
        for a, how in zip(aisles, best[end][1], strict=True):
            y_side = lo if side == 0 else hi
            w.go(Point(a, y_side))
            w.pick(grid[b][a], up=side == 0)
            if how == "traverse":
                side = 1 - side
                w.go(Point(a, lo if side == 0 else hi))
            else:
                w.go(Point(a, y_side))
        if side == 1:
            w.go(Point(aisles[-1], lo))
    return w.route("combined")


# --- The solver callers use ---------------------------------------------------------------------------------

HELD_KARP_MAX = 8  # exact TSP directly for lists this short (multi-block or with precedence)


def plan_route(layout: Layout, stops: Sequence[Stop]) -> Route:
    """The pick route: optimal for single-block layouts without precedence classes; otherwise the best of
    the classic heuristics improved by 2-opt/Or-opt (exact Held–Karp when the list is tiny)."""
    stops = list(stops)
    if not stops:
        return Route(order=[], length=0.0, method="empty")
    ranks_used = {s.rank for s in stops}
    points: list[Point | None] = [None, *(s.point for s in stops)]
    dist = Distances(layout).matrix(points)
    idx = {s.key: i + 1 for i, s in enumerate(stops)}
    ranks = [min(ranks_used), *(s.rank for s in stops)]
    constrained = len(ranks_used) > 1

    if layout.blocks == 1 and not constrained:
        r = rr_route(layout, stops)
        seq = [idx[k] for k in r.order]
        return _finish(stops, dist, seq, "ratliff-rosenthal")

    if not constrained and len(stops) <= HELD_KARP_MAX:
        _, seq = held_karp(dist)
        return _finish(stops, dist, seq, "held-karp")

    # Starting points: optimal/heuristic orders, stably sorted into their precedence classes.
    starts: list[list[int]] = []
    rank_of = {s.key: s.rank for s in stops}
    key_orders: list[list[Hashable]] = []
    if layout.blocks == 1:
        key_orders.append(rr_route(layout, stops).order)
    key_orders += [h(layout, stops).order for h in (s_shape, largest_gap, combined)]
    for ko in key_orders:
        ko = sorted(ko, key=lambda k: rank_of[k])
        starts.append([idx[k] for k in ko])
    nn: list[int] = []
    cur = 0
    for r in sorted(ranks_used):
        part = nearest_neighbour(dist, [i for i in range(1, len(points)) if ranks[i] == r], start=cur)
        nn += part
        cur = part[-1] if part else cur
    starts.append(nn)
    # Local search from every start on short lists, from the two most promising on long ones.
    starts.sort(key=lambda st: tour_length(dist, st))
    best_seq, best_len = None, math.inf
    for st in starts if len(stops) <= 20 else starts[:2]:
        seq = improve_sequence(dist, st, ranks if constrained else None)
        length = tour_length(dist, seq)
        if length < best_len - 1e-9:
            best_seq, best_len = seq, length
    assert best_seq is not None
    return _finish(stops, dist, best_seq, "local-search")


def _finish(stops: Sequence[Stop], dist: list[list[float]], seq: list[int], method: str) -> Route:
    legs, prev = [], 0
    for i in seq:
        legs.append(dist[prev][i])
        prev = i
    legs.append(dist[prev][0])
    return Route(order=[stops[i - 1].key for i in seq], length=sum(legs), method=method, legs=legs)


def sequence_length(layout: Layout, stops: Sequence[Stop], order: Sequence[Hashable]) -> float:
    """Walking length of visiting ``stops`` in ``order`` (shortest path between consecutive stops)."""
    by_key = {s.key: s.point for s in stops}
    d = Distances(layout)
    total, prev = 0.0, None
    for k in order:
        total += d.between(prev, by_key[k])
        prev = by_key[k]
    return total + d.between(prev, None)


def optimal_length(layout: Layout, stops: Sequence[Stop]) -> float:
    """Exact optimum by Held–Karp on the shortest-path matrix (small instances only)."""
    dist = Distances(layout).matrix([None, *(s.point for s in stops)])
    return held_karp(dist)[0]


__all__ = [
    "RANK_LAST",
    "RANK_NORMAL",
    "RANK_PRIORITY",
    "Distances",
    "Layout",
    "Point",
    "Route",
    "Stop",
    "combined",
    "held_karp",
    "improve_sequence",
    "largest_gap",
    "optimal_length",
    "plan_route",
    "rr_route",
    "s_shape",
    "sequence_length",
]
