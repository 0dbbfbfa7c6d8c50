#!/usr/bin/env python3
"""Turn the raw wrk outputs of one `make bench` run into the results table.

run.sh writes one TSV line per measured wrk run:

    row_name <TAB> round <TAB> path/to/wrk-output.txt <TAB> rss_kb
             <TAB> cpu_before <TAB> cpu_after <TAB> upstream_before <TAB> upstream_after

The cpu fields are "USER SYS" CPU time in clock ticks (--clk-tck per second)
of the row's server process tree (its utime and stime in /proc/PID/stat),
read just before and just after the measured wrk run; the upstream fields are
the same for the upstream nginx, "- -" when the row is the upstream itself.
CPU µs per request is the difference divided by the requests wrk completed.
(Lines with only the first four fields are accepted; their CPU is n/a.)

This script parses each wrk output (run with --latency), takes the median of
every metric per row over the rounds, expresses throughput as ratios to the
reference row (the nginx proxy measured in the same run) and to the peer row
(HAProxy's JWT check, same run), p99 as a ratio to the reference, prints an
aligned table on stdout and writes the same table as Markdown, after the
metadata block run.sh prepared, to --markdown.

With --checks (a TSV run.sh writes while declaring rows), a "Checks" section
follows the table:

    rss      <TAB> row <TAB> target_mb           RSS under load vs the target
    flat     <TAB> label <TAB> row_1k <TAB> row_1M <TAB> tolerance_percent
                                                 revocation-check cost vs entries
    scaling  <TAB> row_1_thread <TAB> row_n_threads <TAB> n <TAB> caveat
    alloc    <TAB> name <TAB> budget <TAB> counts0 <TAB> counts1 <TAB> wrk1
             <TAB> counts2 <TAB> wrk2 <TAB> counts3 <TAB> wrk1_seconds
                                                 allocations per request

counts are the 8 numbers of bench/malloc_count.c's counter file (allocs malloc
calloc realloc memalign free bytes magic) read: before and after an idle
second (0, 1), after a short wrk run (2) and after a full-length one (3).
The checks report; they do not change the exit status.

Exit status: 0, or 3 when any row saw non-2xx/3xx responses — such a row's
req/s measures the error path, not the proxy, and must not pass as a result.
"""

import argparse
import re
import statistics
import sys
from collections import OrderedDict

# wrk prints durations with these suffixes (see wrk's units_time in units.c).
_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}

_RPS = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.M)
_PERCENTILE = r"^\s+{}%\s+([0-9.]+)(us|ms|s|m|h)\s*$"
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TOTAL = re.compile(r"^\s+(\d+) requests in ", re.M)


def parse_wrk(text):
    """Metrics of one wrk --latency run; raises ValueError if unparsable."""
    rps = _RPS.search(text)
    p50 = re.search(_PERCENTILE.format(50), text, re.M)
    p99 = re.search(_PERCENTILE.format(99), text, re.M)
    if not (rps and p50 and p99):
        raise ValueError("no Requests/sec or latency distribution "
                         "(was wrk run with --latency?)")
    socket = _SOCKET.search(text)
    non2xx = _NON_2XX.search(text)
    total = _TOTAL.search(text)
    return {
        "rps": float(rps.group(1)),
        "p50": float(p50.group(1)) * _TIME_UNITS_MS[p50.group(2)],
        "p99": float(p99.group(1)) * _TIME_UNITS_MS[p99.group(2)],
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket": sum(map(int, socket.groups())) if socket else 0,
        "requests": int(total.group(1)) if total else 0,
    }


def _ticks(text):
    """'USER SYS' clock ticks -> (user, sys), or None for '- -' / garbage."""
    parts = text.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def cpu_per_request(before, after, requests, clk_tck):
    """CPU µs per request over one run: {'total', 'user', 'sys', 'ticks'} or None."""
    b, a = _ticks(before), _ticks(after)
    if b is None or a is None or not requests:
        return None
    user, sys_ = a[0] - b[0], a[1] - b[1]
    if user < 0 or sys_ < 0:
        return None
    per = 1e6 / clk_tck / requests
    return {"total": (user + sys_) * per, "user": user * per, "sys": sys_ * per,
            "ticks": user + sys_}


def load(results_path, clk_tck=100):
    """Rows in first-seen order -> list of per-round metric dicts."""
    rows = OrderedDict()
    with open(results_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            name, _round, wrk_file, rss_kb = fields[:4]
            cpu = fields[4:8] if len(fields) >= 8 else ["", "", "", ""]
            with open(wrk_file, encoding="utf-8", errors="replace") as w:
                text = w.read()
            try:
                metrics = parse_wrk(text)
            except ValueError as e:
                sys.exit(f"report.py: {name}: {wrk_file}: {e}\n{text}")
            metrics["rss_mb"] = int(rss_kb) / 1024 if rss_kb.isdigit() else None
            metrics["cpu"] = cpu_per_request(cpu[0], cpu[1], metrics["requests"], clk_tck)
            metrics["upstream_cpu"] = cpu_per_request(cpu[2], cpu[3], metrics["requests"], clk_tck)
            rows.setdefault(name, []).append(metrics)
    return rows


def _median_cpu(values):
    """The round whose total is the median (the lower one for an even count),
    so the user/sys split shown is that of a real round."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    values.sort(key=lambda v: v["total"])
    return values[(len(values) - 1) // 2]


def summarize(rows):
    """Median of each metric over rounds; errors are summed, never hidden."""
    out = OrderedDict()
    for name, runs in rows.items():
        rss = [r["rss_mb"] for r in runs if r["rss_mb"] is not None]
        out[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": statistics.median(r["p99"] for r in runs),
            "rss_mb": statistics.median(rss) if rss else None,
            "cpu": _median_cpu(r["cpu"] for r in runs),
            "upstream_cpu": _median_cpu(r["upstream_cpu"] for r in runs),
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket": sum(r["socket"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
            "rounds": len(runs),
        }
    return out


def _fmt_cpu(cpu, split=True):
    if cpu is None:
        return "n/a"
    if not split:
        return f"{cpu['total']:.1f}"
    return f"{cpu['total']:.1f} ({cpu['user']:.1f}+{cpu['sys']:.1f})"


def table(summary, reference, peer=None, peer_label=None):
    ref = summary.get(reference)
    peer_row = summary.get(peer) if peer else None
    header = ["row", "req/s", "p50 ms", "p99 ms", "RSS MB",
              "CPU µs/req (user+sys)", "upstream CPU µs/req", "errors",
              f"req/s vs {reference}"]
    if peer:
        header.append(f"req/s vs {peer_label or peer}")
    header.append(f"p99 vs {reference}")
    lines = []
    for name, s in summary.items():
        errors = s["non2xx"] + s["socket"]
        # Copied on its own, the table must still not sell error answers as speed.
        invalid = " INVALID" if s["non2xx"] else ""
        line = [
            name,
            f"{s['rps']:,.0f}",
            f"{s['p50']:.2f}",
            f"{s['p99']:.2f}",
            f"{s['rss_mb']:.1f}" if s["rss_mb"] is not None else "n/a",
            _fmt_cpu(s["cpu"]),
            # The upstream row is the upstream: its own CPU is the column before.
            _fmt_cpu(s["upstream_cpu"], split=False) if s["upstream_cpu"] else "-",
            # Say which kind: a 401 storm and a dropped socket mean different things.
            (f"{errors:,}" if errors == 0 else
             f"{errors:,} ({s['non2xx']:,} non-2xx, {s['socket']:,} socket)"),
            (f"{s['rps'] / ref['rps']:.2f}x" if ref and ref["rps"] else "n/a") + invalid,
        ]
        if peer:
            line.append((f"{s['rps'] / peer_row['rps']:.2f}x" if peer_row and peer_row["rps"]
                         else "n/a") + invalid)
        line.append(f"{s['p99'] / ref['p99']:.2f}x" if ref and ref["p99"] else "n/a")
        lines.append(line)
    return header, lines


def render_text(header, lines):
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    # Names left-aligned, numbers right-aligned so magnitudes line up.
    def fmt(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule] + [fmt(r) for r in lines])


def render_markdown(header, lines):
    align = ["---"] + ["---:"] * (len(header) - 1)
    rows = [header, align] + lines
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def notes(summary, clk_tck):
    """Plain remarks printed under the table."""
    out = []
    coarse = [name for name, s in summary.items()
              if s["cpu"] is not None and s["cpu"]["ticks"] < 100]
    if coarse:
        out.append(f"Note: the CPU figure of {', '.join(coarse)} rests on fewer than 100 clock "
                   f"ticks (the kernel counts CPU time in 1/{clk_tck} s ticks), so it is coarse; "
                   "longer runs (BENCH_DURATION) make it finer.")
    return out


def warnings(summary):
    out = []
    for name, s in summary.items():
        if s["non2xx"]:
            out.append(f"!!! {name}: {s['non2xx']:,} of {s['requests']:,} responses were "
                       "not 2xx/3xx — this row measured error answers (bad token? "
                       "upstream down?), its req/s is NOT a valid result.")
        if s["socket"]:
            out.append(f"!   {name}: {s['socket']:,} socket errors "
                       "(connect/read/write/timeout) during the measured run.")
    return out


def _counts(text):
    values = [int(v) for v in text.split()]
    if len(values) != 8:
        raise ValueError(f"expected 8 counter values, got {text!r}")
    return dict(zip(["allocs", "malloc", "calloc", "realloc", "memalign", "free",
                     "bytes", "magic"], values))


def _delta(a, b):
    return {k: b[k] - a[k] for k in a if k != "magic"}


def _read_wrk(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_wrk(f.read())


def alloc_check(fields):
    """Allocations per request from the alloc pass; (lines, verdict-ok?)."""
    name, budget, c0, c1, wrk1, c2, wrk2, c3, short_s = fields
    budget = float(budget)
    c0, c1, c2, c3 = map(_counts, (c0, c1, c2, c3))
    w1, w2 = _read_wrk(wrk1), _read_wrk(wrk2)
    idle = _delta(c0, c1)["allocs"]            # one idle second
    run1, run2 = _delta(c1, c2), _delta(c2, c3)
    lines = [f"allocations per request ({name}):"]
    bad = []
    if w1["non2xx"] or w2["non2xx"]:
        bad.append("non-2xx answers during the allocation pass; the figure measures errors")
    if not (w1["requests"] and w2["requests"]):
        bad.append("wrk completed no requests")
    if run2["allocs"] <= 0:
        bad.append("the preload counted no allocations under load: is the allocator "
                   "really malloc (LD_PRELOAD ignored? a static binary?)")
    if bad:
        return lines + [f"  NOT MEASURED: {b}" for b in bad], False
    per1 = run1["allocs"] / w1["requests"]
    per2 = run2["allocs"] / w2["requests"]
    # The count must follow the requests: the two runs differ in length, the
    # figure per request must not.
    spread = abs(per1 - per2) / per2 if per2 else float("inf")
    verdict = "PASS" if per2 <= budget else "OVER"
    lines += [
        f"  {per2:,.1f} allocation calls per request over {w2['requests']:,} requests "
        f"(budget {budget:g}: {verdict})",
        f"  of which per request: malloc {run2['malloc'] / w2['requests']:.1f}, "
        f"calloc {run2['calloc'] / w2['requests']:.1f}, "
        f"realloc {run2['realloc'] / w2['requests']:.1f}, "
        f"aligned {run2['memalign'] / w2['requests']:.1f}; "
        f"free {run2['free'] / w2['requests']:.1f}; "
        f"{run2['bytes'] / w2['requests']:,.0f} bytes requested",
        f"  scales with requests: {per1:,.1f}/request over {w1['requests']:,} requests "
        f"({short_s}s run) vs {per2:,.1f} over {w2['requests']:,}"
        + (" — consistent" if spread <= 0.1 else
           f" — {spread:.0%} apart, NOT consistent: something besides requests allocates"),
        f"  idle background: {idle:,} allocation calls in 1 s with no load "
        "(included above; it is noise at these rates)",
    ]
    return lines, verdict == "PASS" and spread <= 0.1


def checks(summary, path):
    """The Checks section as plain-text lines."""
    out = []
    with open(path, encoding="utf-8") as f:
        entries = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    rss = [e for e in entries if e[0] == "rss" and e[1] in summary]
    if rss:
        out.append("RSS under load:")
        for _, name, target in rss:
            mb = summary[name]["rss_mb"]
            verdict = "n/a" if mb is None else ("PASS" if mb < float(target) else "OVER")
            out.append(f"  {name}: {mb if mb is not None else float('nan'):.1f} MB "
                       f"(target < {target} MB: {verdict})")
    for _, label, small, large, tolerance in (e for e in entries if e[0] == "flat"):
        if small not in summary or large not in summary:
            continue
        s, l = summary[small], summary[large]
        rps = l["rps"] / s["rps"] if s["rps"] else float("nan")
        p99 = l["p99"] / s["p99"] if s["p99"] else float("nan")
        flat = abs(rps - 1) * 100 <= float(tolerance)
        out.append(f"revocation check, {label}, 1M vs 1k revoked: req/s {rps:.2f}x, "
                   f"p99 {p99:.2f}x ({'FLAT' if flat else 'NOT FLAT'}: "
                   f"within ±{tolerance}% is flat)")
        if s["rss_mb"] is not None and l["rss_mb"] is not None and "memory" in label:
            per_entry = (l["rss_mb"] - s["rss_mb"]) * 1024 * 1024 / 999_000
            out.append(f"  memory: {l['rss_mb'] - s['rss_mb']:+.1f} MB RSS for 999k more "
                       f"entries, about {per_entry:,.0f} bytes per entry")
    for _, one, more, n, caveat in (e for e in entries if e[0] == "scaling"):
        if one not in summary or more not in summary:
            continue
        ratio = summary[more]["rps"] / summary[one]["rps"] if summary[one]["rps"] else float("nan")
        out.append(f"{n} event-loop threads vs 1: req/s {ratio:.2f}x "
                   f"({more} / {one})")
        out.append(f"  NOTE: {caveat}")
    for e in (e for e in entries if e[0] == "alloc"):
        lines, _ok = alloc_check(e[1:])
        out += lines
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="TSV written by run.sh")
    ap.add_argument("--reference", required=True, help="row all ratios are relative to")
    ap.add_argument("--peer", help="second row req/s is given relative to (HAProxy's JWT check)")
    ap.add_argument("--peer-label", help="the peer's name in the column header (default: --peer)")
    ap.add_argument("--clk-tck", type=int, default=100,
                    help="clock ticks per second of the CPU fields (getconf CLK_TCK)")
    ap.add_argument("--markdown", help="write the Markdown report here")
    ap.add_argument("--meta", help="Markdown metadata block to put above the table")
    ap.add_argument("--checks", help="TSV of checks (RSS target, flat, scaling, allocations)")
    args = ap.parse_args()

    summary = summarize(load(args.results, args.clk_tck))
    if args.reference not in summary:
        print(f"report.py: reference row {args.reference!r} missing; ratios are n/a",
              file=sys.stderr)
    if args.peer and args.peer not in summary:
        print(f"report.py: peer row {args.peer!r} missing; its ratios are n/a",
              file=sys.stderr)
    header, lines = table(summary, args.reference, args.peer, args.peer_label)
    warns = warnings(summary)
    note_lines = notes(summary, args.clk_tck)

    print(render_text(header, lines))
    if note_lines:
        print("\n" + "\n".join(note_lines))
    check_lines = checks(summary, args.checks) if args.checks else []
    if check_lines:
        print("\n" + "\n".join(check_lines))
    if warns:
        bar = "!" * 78
        print("\n".join(["", bar] + warns + [bar]), file=sys.stderr)

    if args.markdown:
        parts = ["# Portcullis benchmark — last run", ""]
        if args.meta:
            with open(args.meta, encoding="utf-8") as f:
                parts += [f.read().rstrip(), ""]
        parts += ["## Results", "", render_markdown(header, lines), ""]
        if note_lines:
            parts += [*note_lines, ""]
        rounds = max(s["rounds"] for s in summary.values())
        if rounds > 1:
            parts += [f"Each figure is the median over {rounds} interleaved rounds; "
                      "errors are summed over all rounds.", ""]
        if check_lines:
            parts += ["## Checks", "", "```", *check_lines, "```", ""]
        if warns:
            parts += ["## Warnings", ""] + [f"- {w}" for w in warns] + [""]
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("\n".join(parts))

    return 3 if any(s["non2xx"] for s in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
