#!/usr/bin/env python3
"""scripts/bench's report: the table of medians (min–max), ratios to the peers measured in the same
run and goals, the machine and versions, two PNG charts (gnuplot), written to
bench/results/<date>-<host>.md; the section between the results markers of docs/BENCHMARKS.md is
replaced by the same table and charts (--docs 1)."""

import argparse
import datetime
import os
import re
import shutil
import socket
import subprocess
import sys

BEGIN = "<!-- bench-results:begin (scripts/bench rewrites this section) -->"
END = "<!-- bench-results:end -->"
COLUMNS = ["workload", "metric", "unit", "median", "min", "max", "runs", "peer", "peer_median", "peer_min",
           "peer_max", "goal_op", "goal", "load", "note"]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def num(v):
    try:
        f = float(v)
        return None if f != f else f
    except (TypeError, ValueError):
        return None


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit in ("events/s", "records/s"):
        return f"{v / 1e6:.2f} M"
    if unit == "req/s":
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def read_rows(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= len(COLUMNS):
                rows.append(dict(zip(COLUMNS, parts)))
    return rows


def verdict(r):
    m, g = num(r["median"]), num(r["goal"])
    if m is None or g is None or r["goal_op"] not in (">=", "<="):
        return None, None
    met = m >= g if r["goal_op"] == ">=" else m <= g
    if r["note"].startswith("PARTIAL") and r["goal_op"] == "<=" and met:
        return None, None  # a lower bound under the limit proves nothing
    # score > 1 means better than the goal, whichever the direction
    score = m / g if r["goal_op"] == ">=" else (g / m if m > 0 else float("inf"))
    return met, score


def goal_text(r):
    g = num(r["goal"])
    if g is None:
        return "—"
    met, score = verdict(r)
    goal = f"{r['goal_op']} {fmt(g, r['unit'])}"
    if met is None:
        return goal
    if met:
        return f"{goal}: **met** ({score:.2f}x)"
    return f"{goal}: **missed** ({score:.2f}x of the goal)"


def ratio_text(r):
    m, p = num(r["median"]), num(r["peer_median"])
    if r["peer"] in ("", "-"):
        return "—", "—"
    if p is None:
        return r["peer"], "skipped"
    peer = f"{r['peer']}: {fmt(p, r['unit'])} ({fmt(num(r['peer_min']), r['unit'])}–{fmt(num(r['peer_max']), r['unit'])})"
    if m is None:
        return peer, "n/a"
    return peer, f"{m / p:.2f}x"


def table(rows):
    out = ["| workload | metric | adclick median (min–max) | runs | peer in the same run: median (min–max) | "
           "ratio | goal | load avg (1/5/15 min) | notes |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        u = r["unit"]
        fig = f"{fmt(num(r['median']), u)} {u}"
        if r["runs"] not in ("1", "0") and num(r["min"]) is not None:
            fig += f" ({fmt(num(r['min']), u)}–{fmt(num(r['max']), u)})"
        peer, ratio = ratio_text(r)
        out.append(f"| {r['workload']} | {r['metric']} | {fig} | {r['runs']} | {peer} | {ratio} | {goal_text(r)} | "
                   f"{r['load']} | {r['note']} |")
    return "\n".join(out)


def machine(build):
    model = sh("lscpu | sed -n 's/^Model name: *//p'")
    mem = sh("awk '/MemTotal/ { printf \"%.1f GiB\", $2 / 1048576 }' /proc/meminfo")
    ch = sh("clickhouse-client --version 2>/dev/null | awk '{print $NF}'") or "not installed"
    return [
        ("host", socket.gethostname()),
        ("CPU", f"{sh('nproc')} cores (nproc), {model}"),
        ("memory", mem),
        ("OS", sh(". /etc/os-release && echo $PRETTY_NAME") + ", kernel " + sh("uname -r")),
        ("adclick", sh(f"git -C {ROOT} describe --always --dirty --tags")),
        ("g++", sh("g++ --version | head -n 1")),
        ("build", f"Release, {build}"),
        ("SQLite", sh("dpkg-query -W -f='${Version}' libsqlite3-0")),
        ("librdkafka", sh("pkg-config --modversion rdkafka") or sh("dpkg-query -W -f='${Version}' librdkafka1")),
        ("ClickHouse", ch),
        ("kcat", sh("kcat -V 2>&1 | head -n 1")),
        ("wrk", sh("wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2")),
    ]


def charts(rows, prefix):
    """Two PNGs: throughput (adclick vs peer vs goal, log scale) and figure ÷ goal. Returns their paths."""
    if not shutil.which("gnuplot"):
        return []
    made = []
    tp = [r for r in rows if r["unit"] in ("events/s", "records/s") and num(r["median"]) is not None]
    if tp:
        data = prefix + "-throughput.dat"
        with open(data, "w", encoding="utf-8") as f:
            for r in tp:
                label = ("W" + r["workload"].split(" ", 1)[0] + " " + r["metric"])[:34]
                vals = [num(r["median"]), num(r["peer_median"]), num(r["goal"])]
                f.write('"' + label.replace('"', "'") + '"\t' + "\t".join(
                    f"{v / 1e6:.4f}" if v else "?" for v in vals) + "\n")
        made.append(plot(prefix + "-throughput.png", data, "M events/s (log scale)", True,
                         "using 2:xtic(1) title 'adclick', '' using 3 title 'peer (same run)', "
                         "'' using 4 title 'goal'"))
    gl = [(r, verdict(r)[1]) for r in rows if verdict(r)[1] is not None]
    if gl:
        data = prefix + "-goals.dat"
        with open(data, "w", encoding="utf-8") as f:
            for r, score in gl:
                label = ("W" + r["workload"].split(" ", 1)[0] + " " + r["metric"])[:34]
                f.write('"' + label.replace('"', "'") + f'"\t{min(score, 100):.4f}\n')
        made.append(plot(prefix + "-goals.png", data, "figure / goal (> 1 = goal met; latency and memory: goal / figure)",
                         True, "using 2:xtic(1) title 'adclick vs goal', 1 with lines lw 2 title 'goal'"))
    return [m for m in made if m]


def plot(png, data, ylabel, log, using):
    script = f"""set terminal png size 1200,650 font ",10" noenhanced
set output '{png}'
set datafile separator "\\t"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
{'set logscale y' if log else ''}
set ylabel "{ylabel}"
set xtics rotate by -35 scale 0
set bmargin 11
set key top right
plot '{data}' {using}
"""
    r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    os.unlink(data)
    if r.returncode != 0 or not os.path.exists(png):
        print("bench_report: gnuplot failed: " + r.stderr[-500:], file=sys.stderr)
        return None
    return png


def main():
    global ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--results-dir", required=True)
    ap.add_argument("--docs", default="1")
    a = ap.parse_args()
    ROOT = a.root
    meta = dict(re.findall(r"^(\w+)='(.*)'$", open(a.meta, encoding="utf-8").read(), re.M))
    rows = read_rows(a.rows)
    os.makedirs(a.results_dir, exist_ok=True)
    date = datetime.datetime.utcnow().strftime("%Y-%m-%d")
    host = socket.gethostname().split(".")[0]
    name = f"{date}-{host}" + ("-quick" if meta.get("QUICK") == "1" else "")
    prefix = os.path.join(a.results_dir, name)
    pngs = charts(rows, prefix)

    try:
        cores = float(sh("nproc") or 1)
    except ValueError:
        cores = 1.0
    loads = [num(meta.get("LOAD_START", "0").split()[0]), num(meta.get("LOAD_END", "0").split()[0])]
    shared = any(l is not None and l > 0.5 * cores for l in loads)
    lines = [f"# adclick benchmarks — {date}, {host}{' (QUICK=1 smoke run)' if meta.get('QUICK') == '1' else ''}", "",
             f"`scripts/bench`, {meta.get('START_UTC')} → {meta.get('END_UTC')}; each figure is the median of "
             f"{meta.get('RUNS')} measured runs after a warm-up unless the runs column says otherwise; peers are "
             "measured in the same run on the same machine. Load average at start "
             f"{meta.get('LOAD_START')}, at end {meta.get('LOAD_END')}.", ""]
    if shared:
        lines += [f"**The machine was shared during this run** (load average above half of its {cores:.0f} cores at "
                  "start or end; the per-row load column shows it at each figure): figures are noisy and lower "
                  "than on an idle machine; ratios to peers measured in the same run are the more robust numbers.",
                  ""]
    lines += ["## Results", "", table(rows), ""]
    for p in pngs:
        lines += [f"![{os.path.basename(p)}]({os.path.basename(p)})", ""]
    met = [(r, verdict(r)) for r in rows if verdict(r)[0] is not None]
    lines += ["## Goals", ""]
    for r, (ok, score) in met:
        lines.append(f"- {'met' if ok else 'MISSED'}: {r['workload']} — {r['metric']}: "
                     f"{fmt(num(r['median']), r['unit'])} {r['unit']} vs goal {r['goal_op']} "
                     f"{fmt(num(r['goal']), r['unit'])} ({score:.2f}x{'' if ok else f', short by {(1 - score) * 100:.0f} %'})")
    lines += ["", "## Machine and versions", ""] + [f"- {k}: {v}" for k, v in machine(a.build)] + [""]
    with open(prefix + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"bench_report: wrote {prefix}.md" + "".join(f", {p}" for p in pngs))

    if a.docs == "1":
        docs = os.path.join(ROOT, "docs", "BENCHMARKS.md")
        rel = os.path.relpath(a.results_dir, os.path.dirname(docs))
        section = [BEGIN, "", f"Latest run: [{name}]({rel}/{name}.md) — load average at start "
                   f"{meta.get('LOAD_START')}, at end {meta.get('LOAD_END')}"
                   + (" (the machine was shared: noisy figures)." if shared else "."), "", table(rows), ""]
        section += [f"![{os.path.basename(p)}]({rel}/{os.path.basename(p)})" for p in pngs]
        section += ["", END]
        text = open(docs, encoding="utf-8").read() if os.path.exists(docs) else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + "\n".join(section) + text[text.index(END) + len(END):]
        else:
            text += "\n" + "\n".join(section) + "\n"
        with open(docs, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"bench_report: refreshed {docs}")


ROOT = "."
if __name__ == "__main__":
    main()
