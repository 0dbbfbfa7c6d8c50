#!/usr/bin/env python3
"""Turn the raw wrk outputs of one `make bench` run into the results table.

run.sh writes one TSV line per measured wrk run:

    row_name <TAB> round <TAB> path/to/wrk-output.txt <TAB> rss_kb

This script parses each wrk output (run with --latency), takes the median of
every metric per row over the rounds, expresses throughput and p99 as ratios
to the reference row (the nginx proxy measured in the same run), prints an
aligned table on stdout and writes the same table as Markdown, after the
metadata block run.sh prepared, to --markdown.

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


def load(results_path):
    """Rows in first-seen order -> list of per-round metric dicts."""
    rows = OrderedDict()
    with open(results_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            name, _round, wrk_file, rss_kb = line.rstrip("\n").split("\t")
            with open(wrk_file, encoding="utf-8", errors="replace") as w:
                text = w.read()
            try:
                metrics = parse_wrk(text)
            except ValueError as e:
                sys.exit(f"report.py: {name}: {wrk_file}: {e}\n{text}")
            metrics["rss_mb"] = int(rss_kb) / 1024 if rss_kb.isdigit() else None
            rows.setdefault(name, []).append(metrics)
    return rows


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
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket": sum(r["socket"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
            "rounds": len(runs),
        }
    return out


def table(summary, reference):
    ref = summary.get(reference)
    header = ["row", "req/s", "p50 ms", "p99 ms", "RSS MB", "errors",
              f"req/s vs {reference}", f"p99 vs {reference}"]
    lines = []
    for name, s in summary.items():
        errors = s["non2xx"] + s["socket"]
        lines.append([
            name,
            f"{s['rps']:,.0f}",
            f"{s['p50']:.2f}",
            f"{s['p99']:.2f}",
            f"{s['rss_mb']:.1f}" if s["rss_mb"] is not None else "n/a",
            # Say which kind: a 401 storm and a dropped socket mean different things.
            (f"{errors:,}" if errors == 0 else
             f"{errors:,} ({s['non2xx']:,} non-2xx, {s['socket']:,} socket)"),
            (f"{s['rps'] / ref['rps']:.2f}x" if ref and ref["rps"] else "n/a")
            # Copied on its own, the table must still not sell error answers as speed.
            + (" INVALID" if s["non2xx"] else ""),
            f"{s['p99'] / ref['p99']:.2f}x" if ref and ref["p99"] else "n/a",
        ])
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="TSV written by run.sh")
    ap.add_argument("--reference", required=True, help="row all ratios are relative to")
    ap.add_argument("--markdown", help="write the Markdown report here")
    ap.add_argument("--meta", help="Markdown metadata block to put above the table")
    args = ap.parse_args()

    summary = summarize(load(args.results))
    if args.reference not in summary:
        print(f"report.py: reference row {args.reference!r} missing; ratios are n/a",
              file=sys.stderr)
    header, lines = table(summary, args.reference)
    warns = warnings(summary)

    print(render_text(header, lines))
    if warns:
        bar = "!" * 78
        print("\n".join(["", bar] + warns + [bar]), file=sys.stderr)

    if args.markdown:
        parts = ["# Portcullis benchmark — last run", ""]
        if args.meta:
            with open(args.meta, encoding="utf-8") as f:
                parts += [f.read().rstrip(), ""]
        parts += ["## Results", "", render_markdown(header, lines), ""]
        rounds = max(s["rounds"] for s in summary.values())
        if rounds > 1:
            parts += [f"Each figure is the median over {rounds} interleaved rounds; "
                      "errors are summed over all rounds.", ""]
        if warns:
            parts += ["## Warnings", ""] + [f"- {w}" for w in warns] + [""]
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("\n".join(parts))

    return 3 if any(s["non2xx"] for s in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
