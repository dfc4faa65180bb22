#!/usr/bin/env python3
"""Turns criterion's results for resil's benches into one Markdown table.

Reads `<criterion-dir>/**/new/benchmark.json` and `estimates.json` (the
median of each benchmark), and the `resil-footprint:` and
`resil-bench-config:` lines the benches print. Each group compares one
semantics (a consecutive-failure breaker, a 100-call failure-rate window, a
60 s time window, ...), and every variant's configuration is printed in its
row. For every group, `bare` is the unprotected call measured in the same
run (and, under contention, with the same number of threads):

- ns/call: median time of one call (per thread, under contention);
- overhead: ns/call minus bare's;
- resil / peer: resil's overhead divided by that peer's (below 1 means
  resil adds less). The open-circuit group has no bare call; there the
  ratio is of the whole rejection.

Then it checks the performance targets of the README and prints which hold.
Run it through `scripts/bench-table.sh`, which runs the benches first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

GROUPS = [
    ("breaker", "closed breaker, consecutive failures"),
    ("breaker-window", "closed breaker, 100-call failure-rate window"),
    ("breaker-time-window", "closed breaker, 60 s failure-rate window"),
    ("bulkhead", "bulkhead, free capacity"),
    ("retry", "retry, no failure"),
    ("stack", "retry + breaker + bulkhead"),
    ("open", "open-circuit rejection"),
    ("contention-breaker", "shared breaker, consecutive failures"),
    ("contention-breaker-window", "shared breaker, 100-call window"),
    ("contention-bulkhead", "shared bulkhead"),
    ("contention-breaker+bulkhead", "shared breaker + bulkhead"),
]

# The call each group's ratios are taken against.
PRIMARY = "resil"
NEAR_ZERO_NS = 0.5


def load(criterion_dir: Path, since: float | None) -> dict:
    """(group, variant, threads-or-None) -> median ns."""
    results = {}
    for meta_path in criterion_dir.glob("**/new/benchmark.json"):
        estimates_path = meta_path.with_name("estimates.json")
        if not estimates_path.exists():
            continue
        if since is not None and estimates_path.stat().st_mtime < since:
            continue  # left over from an earlier run
        meta = json.loads(meta_path.read_text())
        estimates = json.loads(estimates_path.read_text())
        key = (meta["group_id"], meta["function_id"], meta.get("value_str"))
        results[key] = estimates["median"]["point_estimate"]
    return results


def footprints(log: Path | None) -> list[tuple[str, int]]:
    if log is None or not log.exists():
        return []
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"resil-footprint: (.*) = (\d+) bytes", line.strip())
        if match:
            found.append((match.group(1), int(match.group(2))))
    return found


def configurations(log: Path | None) -> dict[tuple[str, str], str]:
    """(group, variant) -> how the benches configured that variant."""
    if log is None or not log.exists():
        return {}
    found = {}
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"resil-bench-config: ([^/]+)/(.+?) = (.*)", line.strip())
        if match:
            found[(match.group(1), match.group(2))] = match.group(3).replace("|", "\\|")
    return found


def variant_order(variant: str) -> tuple[int, str]:
    if variant == "bare":
        return (0, "")
    if variant == PRIMARY:
        return (1, "")
    if variant.startswith(PRIMARY):
        return (2, variant)
    return (3, variant)


def fmt_ns(ns: float | None) -> str:
    return "—" if ns is None else f"{ns:.1f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None:
        return "—"
    if theirs < NEAR_ZERO_NS:
        return f"— (peer adds ≈{max(theirs, 0.0):.1f} ns)"
    return f"{max(ours, 0.0) / theirs:.2f}"


def build_table(results: dict, configs: dict) -> tuple[list[str], dict]:
    lines = [
        "| scenario | threads | variant | configuration | ns/call | overhead vs bare (ns) | resil / peer |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    facts = {}  # (group, threads) -> {variant: (ns, overhead)}
    for group, title in GROUPS:
        threads_seen = sorted(
            {t for (g, _, t) in results if g == group},
            key=lambda t: (t is not None, int(t) if t and t.isdigit() else 0),
        )
        for threads in threads_seen:
            variants = sorted(
                (v for (g, v, t) in results if g == group and t == threads),
                key=variant_order,
            )
            bare = results.get((group, "bare", threads))
            rows = {}
            for variant in variants:
                ns = results[(group, variant, threads)]
                overhead = None if bare is None or variant == "bare" else ns - bare
                rows[variant] = (ns, overhead)
            facts[(group, threads)] = rows
            ours = rows.get(PRIMARY)
            for variant, (ns, overhead) in rows.items():
                if variant.startswith(PRIMARY) or variant == "bare" or ours is None:
                    cell = "—"
                elif bare is None:  # open circuit: compare whole rejections
                    cell = ratio(ours[0], ns)
                else:
                    cell = ratio(ours[1], overhead)
                shown = f"**{variant}**" if variant == PRIMARY else variant
                config = configs.get((group, variant), "unprotected call" if variant == "bare" else "—")
                lines.append(
                    f"| {title} | {threads or 1} | {shown} | {config} | {fmt_ns(ns)} "
                    f"| {fmt_ns(overhead)} | {cell} |"
                )
    return lines, facts


def check_targets(facts: dict, prints: list, alloc_status: str | None) -> list[str]:
    def get(group, variant, threads=None, overhead=True):
        row = facts.get((group, threads), {}).get(variant)
        if row is None:
            return None
        return row[1] if overhead else row[0]

    checks = []

    def target(name, ok, detail):
        mark = "n/a" if ok is None else ("met" if ok else "MISSED")
        checks.append(f"| {name} | {mark} | {detail} |")

    def below_every_peer(group, label):
        ours = get(group, PRIMARY)
        peers = {
            v: o
            for v, (_, o) in facts.get((group, None), {}).items()
            if v != "bare" and not v.startswith(PRIMARY)
        }
        if ours is None:
            target(label, None, "not run")
            return
        below = all(ours < o for o in peers.values() if o is not None)
        listed = ", ".join(f"{v} {o:.1f}" for v, o in peers.items() if o is not None)
        target(label, below, f"resil {ours:.1f} ns; peers: {listed or 'none run'}")

    def at_most_fraction(label, ours, theirs, peer, fraction, ceiling=None):
        """resil's overhead is at most `fraction` of a peer's (and at most
        `ceiling` ns, if given)."""
        if ours is None or theirs is None:
            target(label, None, "not run")
            return
        ok = ours <= theirs * fraction and (ceiling is None or ours <= ceiling)
        target(
            label,
            ok,
            f"resil {ours:.1f} ns vs {peer} {theirs:.1f} ns (ratio {ours / theirs:.2f})",
        )

    cb = get("breaker", PRIMARY)
    target(
        "consecutive-failure breaker overhead ≤ 10 ns",
        None if cb is None else cb <= 10,
        "not run" if cb is None else f"resil {cb:.1f} ns",
    )
    below_every_peer("breaker", "consecutive-failure breaker below every peer in that mode")
    at_most_fraction(
        "100-call window breaker overhead ≤ 0.5 × recloser's (same window) and ≤ 10 ns",
        get("breaker-window", PRIMARY),
        get("breaker-window", "recloser"),
        "recloser",
        1 / 2,
        ceiling=10,
    )
    below_every_peer("breaker-window", "100-call window breaker below every peer with that window")
    below_every_peer("breaker-time-window", "60 s window breaker below every peer with a time window")

    at_most_fraction(
        "2 threads: 100-call window breaker overhead ≤ 1/3 of recloser's",
        get("contention-breaker-window", PRIMARY, "2"),
        get("contention-breaker-window", "recloser", "2"),
        "recloser",
        1 / 3,
    )
    at_most_fraction(
        "bulkhead overhead ≤ 1/2 of Semaphore's",
        get("bulkhead", PRIMARY),
        get("bulkhead", "tokio-semaphore"),
        "Semaphore",
        1 / 2,
    )

    ours = get("retry", PRIMARY)
    target(
        "retry overhead with no failure ≤ 5 ns",
        None if ours is None else ours <= 5,
        "not run" if ours is None else f"resil {ours:.1f} ns",
    )

    ours = get("open", PRIMARY, overhead=False)
    raw = get("open", "resil-try-acquire", overhead=False)
    target(
        "open-circuit rejection < 20 ns",
        None if ours is None else ours < 20,
        "not run"
        if ours is None
        else f"call through the breaker {ours:.1f} ns; try_acquire alone "
        + ("—" if raw is None else f"{raw:.1f} ns"),
    )

    if alloc_status is None:
        target("no allocation (closed, free bulkhead, retry, rejection)", None, "tests/alloc.rs not run")
    else:
        target(
            "no allocation (closed, free bulkhead, retry, rejection)",
            alloc_status == "pass",
            f"tests/alloc.rs: {alloc_status}",
        )

    window = next((b for name, b in prints if "100-call window" in name), None)
    target(
        "breaker with a 100-call window ≤ 256 bytes",
        None if window is None else window <= 256,
        "not printed" if window is None else f"{window} bytes",
    )
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("criterion_dir", type=Path)
    parser.add_argument("--log", type=Path, help="the benches' output (footprint lines)")
    parser.add_argument("--since", type=float, help="ignore results older than this epoch")
    parser.add_argument("--alloc", choices=["pass", "fail"], help="tests/alloc.rs outcome")
    args = parser.parse_args()

    results = load(args.criterion_dir, args.since)
    if not results:
        print(f"no criterion results under {args.criterion_dir}", file=sys.stderr)
        return 1
    table, facts = build_table(results, configurations(args.log))
    prints = footprints(args.log)

    print("\n".join(table))
    if prints:
        print()
        print("| policy | bytes |")
        print("| --- | ---: |")
        for name, size in prints:
            print(f"| {name} | {size} |")
    print()
    print("| target | status | measured |")
    print("| --- | --- | --- |")
    print("\n".join(check_targets(facts, prints, args.alloc)))
    print()
    print(
        "Medians of criterion's samples. Overhead = ns/call − bare ns/call in the same run; "
        "resil / peer = resil's overhead ÷ the peer's (open circuit: whole rejection); "
        "each group's variants are configured alike, as the configuration column says. "
        f"Machine: {os.cpu_count()} CPUs."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
