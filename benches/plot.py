#!/usr/bin/env python3
"""Draws the comparison suite's results as one SVG file, with no third-party packages.

Usage: python3 benches/plot.py RESULTS.jsonl OUT.svg

RESULTS.jsonl is what `cargo bench -p smolscale-bench --bench compare` writes (one JSON object
per executor, metric and repetition; see benches/src/report.rs). The SVG has three panels, each
drawn from the medians over repetitions of the runs that produced a value:

1. partial load: process CPU time per round trip (y) against round trips per second (x), one
   point per executor, with each repetition as a faint dot behind it;
2. blocking: how long a tiny task waited behind blocked workers (ms), two bars per executor:
   blockers asleep in the kernel, and blockers spinning on a CPU;
3. timer lateness under load: p50 and p99 (ms), two bars per executor.

Panels whose metrics are absent from the file are left out.
"""

import json
import math
import statistics
import sys
from collections import defaultdict

# Column order of the tables, and one colour per executor.
EXECUTORS = [
    ("smolscale", "#d62728"),
    ("tokio", "#1f77b4"),
    ("async-executor", "#2ca02c"),
    ("async-global-executor", "#9467bd"),
    ("smolscale-0.4", "#ff7f0e"),
    ("floor", "#7f7f7f"),
]
COLOUR = dict(EXECUTORS)

WIDTH = 760
PANEL_HEIGHT = 360
MARGIN = dict(left=80, right=30, top=50, bottom=70)


def load(path):
    """{(executor, metric): [value per repetition]} of the runs that produced a value."""
    values = defaultdict(list)
    with open(path, encoding="utf-8") as results:
        for line in results:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            if record.get("status") == "ok" and record.get("value") is not None:
                values[(record["executor"], record["workload"])].append(record["value"])
    return values


def executors_with(values, metric):
    return [name for name, _ in EXECUTORS if (name, metric) in values]


def nice_ticks(low, high, count=5):
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    first = math.floor(low / step) * step
    ticks = []
    tick = first
    while tick <= high + step * 1e-9:
        ticks.append(tick)
        tick += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def fmt(value):
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Panel:
    """One chart, drawn at vertical offset `top` of the page."""

    def __init__(self, top, title, x_label, y_label):
        self.top = top
        self.parts = []
        self.x0 = MARGIN["left"]
        self.x1 = WIDTH - MARGIN["right"]
        self.y0 = top + PANEL_HEIGHT - MARGIN["bottom"]
        self.y1 = top + MARGIN["top"]
        self.text(WIDTH / 2, top + 28, title, size=16, anchor="middle", weight="bold")
        self.text((self.x0 + self.x1) / 2, self.y0 + 48, x_label, anchor="middle")
        middle = (self.y0 + self.y1) / 2
        self.parts.append(
            f'<text x="20" y="{middle}" font-size="13" text-anchor="middle" '
            f'transform="rotate(-90 20 {middle})">{esc(y_label)}</text>'
        )

    def text(self, x, y, text, size=12, anchor="start", weight="normal", colour="#000"):
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{colour}">{esc(text)}</text>'
        )

    def line(self, x1, y1, x2, y2, colour="#000", width=1):
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour}" stroke-width="{width}"/>'
        )

    def y_axis(self, ticks):
        """Horizontal grid lines and labels; returns the value-to-y mapping."""
        low, high = ticks[0], ticks[-1]

        def to_y(value):
            return self.y0 - (value - low) / (high - low) * (self.y0 - self.y1)

        for tick in ticks:
            y = to_y(tick)
            self.line(self.x0, y, self.x1, y, colour="#ddd")
            self.text(self.x0 - 6, y + 4, fmt(tick), anchor="end")
        self.line(self.x0, self.y0, self.x0, self.y1)
        self.line(self.x0, self.y0, self.x1, self.y0)
        return to_y


def scatter_partial_load(values, top):
    x_metric = "partial_load.round_trips_per_s"
    y_metric = "partial_load.cpu_per_round_trip"
    names = [n for n in executors_with(values, x_metric) if (n, y_metric) in values]
    if not names:
        return None
    panel = Panel(
        top,
        "Partial load: CPU cost against throughput (lower right is better)",
        "round trips per second",
        "process CPU time per round trip (µs)",
    )
    xs = [v for n in names for v in values[(n, x_metric)]]
    ys = [v for n in names for v in values[(n, y_metric)]]
    x_pad = (max(xs) - min(xs)) * 0.15 or max(xs) * 0.05
    x_ticks = nice_ticks(min(xs) - x_pad, max(xs) + x_pad)
    to_y = panel.y_axis(nice_ticks(0, max(ys) * 1.1))
    low, high = x_ticks[0], x_ticks[-1]

    def to_x(value):
        return panel.x0 + (value - low) / (high - low) * (panel.x1 - panel.x0)

    for tick in x_ticks:
        x = to_x(tick)
        panel.line(x, panel.y0, x, panel.y0 + 5)
        panel.text(x, panel.y0 + 20, fmt(tick), anchor="middle")
    labels = []
    for name in names:
        colour = COLOUR[name]
        for x, y in zip(values[(name, x_metric)], values[(name, y_metric)]):
            panel.parts.append(
                f'<circle cx="{to_x(x):.1f}" cy="{to_y(y):.1f}" r="3" fill="{colour}" '
                f'fill-opacity="0.3"/>'
            )
        x = to_x(statistics.median(values[(name, x_metric)]))
        y = to_y(statistics.median(values[(name, y_metric)]))
        panel.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>')
        labels.append([x + 9, y - 8, name])
    # Push labels that would overlap a label above them down by a line.
    labels.sort(key=lambda label: label[1])
    for i, label in enumerate(labels):
        for above in labels[:i]:
            if abs(label[0] - above[0]) < 150 and label[1] - above[1] < 15:
                label[1] = above[1] + 15
        panel.text(label[0], label[1], label[2], colour=COLOUR[label[2]])
    return panel


def bars(values, top, title, y_label, metrics):
    """Grouped bars: one group per executor, one bar per metric (shaded darker to lighter)."""
    names = executors_with(values, metrics[0][0])
    if not names:
        return None
    panel = Panel(top, title, "", y_label)
    medians = {
        (n, m): statistics.median(values[(n, m)]) for n in names for m, _ in metrics if (n, m) in values
    }
    to_y = panel.y_axis(nice_ticks(0, max(medians.values()) * 1.1))
    group = (panel.x1 - panel.x0) / len(names)
    bar = group * 0.7 / len(metrics)
    for i, name in enumerate(names):
        left = panel.x0 + i * group + group * 0.15
        for j, (metric, _) in enumerate(metrics):
            if (name, metric) not in medians:
                continue
            value = medians[(name, metric)]
            x = left + j * bar
            y = to_y(value)
            opacity = 1.0 - 0.45 * j
            panel.parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{panel.y0 - y:.1f}" '
                f'fill="{COLOUR[name]}" fill-opacity="{opacity}"/>'
            )
            panel.text(x + bar / 2, y - 4, fmt(value), size=11, anchor="middle")
        panel.text(panel.x0 + (i + 0.5) * group, panel.y0 + 20, name, anchor="middle")
    if len(metrics) > 1:
        legend = "   ".join(f"{'dark' if j == 0 else 'light'}: {label}" for j, (_, label) in enumerate(metrics))
        panel.text(panel.x1, panel.y1 - 8, legend, anchor="end", size=11)
    return panel


def main(argv):
    if len(argv) != 3:
        sys.exit(f"usage: {argv[0]} RESULTS.jsonl OUT.svg")
    values = load(argv[1])
    makers = [
        lambda top: scatter_partial_load(values, top),
        lambda top: bars(
            values,
            top,
            "Blocking: wait of a task spawned behind 2 × N blocking tasks (lower is better)",
            "latency (ms)",
            [("blocking.latency", "asleep"), ("blocking_cpu.latency", "spinning")],
        ),
        lambda top: bars(
            values,
            top,
            "Timer lateness of 1 ms timers beside 1000 busy tasks (lower is better)",
            "lateness (ms)",
            [("timer_lateness.p50", "p50"), ("timer_lateness.p99", "p99")],
        ),
    ]
    panels = []
    for make in makers:
        panel = make(len(panels) * PANEL_HEIGHT)
        if panel is not None:
            panels.append(panel)
    if not panels:
        sys.exit(f"{argv[1]} has no partial_load, blocking or timer_lateness results")
    height = len(panels) * PANEL_HEIGHT
    with open(argv[2], "w", encoding="utf-8") as out:
        out.write(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">\n'
            f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>\n'
        )
        for panel in panels:
            out.write("\n".join(panel.parts))
            out.write("\n")
        out.write("</svg>\n")


if __name__ == "__main__":
    main(sys.argv)
