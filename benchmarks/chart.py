"""
Draw time against size for the orders pages and payout runs, as an SVG for the README,
from the figures the benchmarks wrote with --json (benchmarks/results/*.json). No plotting
library: a few lines of SVG on log-scaled axes.

    python benchmarks/chart.py   # writes benchmarks/results/scale.svg
"""

import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
W, H, PAD = 420, 300, 56
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _axis_log(values):
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    return low, max(high, low + 1)


def panel(x0: int, title: str, xlabel: str, ylabel: str, series: dict[str, list[tuple[float, float]]]) -> str:
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    (xl, xh), (yl, yh) = _axis_log(xs), _axis_log(ys)

    def px(x):
        return x0 + PAD + (math.log10(x) - xl) / (xh - xl) * (W - 2 * PAD)

    def py(y):
        return H - PAD - (math.log10(y) - yl) / (yh - yl) * (H - 2 * PAD)

    out = [
        f'<text x="{x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>',
        f'<line x1="{x0 + PAD}" y1="{H - PAD}" x2="{x0 + W - PAD}" y2="{H - PAD}" stroke="#333"/>',
        f'<line x1="{x0 + PAD}" y1="{PAD}" x2="{x0 + PAD}" y2="{H - PAD}" stroke="#333"/>',
        f'<text x="{x0 + W / 2}" y="{H - 14}" text-anchor="middle">{xlabel}</text>',
        f'<text x="{x0 + 14}" y="{H / 2}" text-anchor="middle" transform="rotate(-90 {x0 + 14} {H / 2})">{ylabel}</text>',
    ]
    for e in range(xl, xh + 1):
        label = f"{10**e:,.0f}" if e < 6 else f"{10 ** (e - 6):g}M"
        out.append(
            f'<text x="{px(10**e)}" y="{H - PAD + 16}" text-anchor="middle" font-size="11">{label}</text>'
        )
    for e in range(yl, yh + 1):
        out.append(
            f'<line x1="{x0 + PAD}" y1="{py(10**e)}" x2="{x0 + W - PAD}" y2="{py(10**e)}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{x0 + PAD - 6}" y="{py(10**e) + 4}" text-anchor="end" font-size="11">{10**e:g}</text>'
        )
    for i, (name, points) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(points))
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        out.append(f'<text x="{x0 + PAD + 8}" y="{PAD + 14 * i}" font-size="11" fill="{color}">{name}</text>')
    return "\n".join(out)


def main():
    orders = json.loads((RESULTS / "orders.json").read_text())
    pages = ["seller page 1", "seller deep page", "buyer page 1", "admin orders"]
    order_series = {
        name: [(int(size), figures[name]["median"]) for size, figures in orders.items()] for name in pages
    }
    payout_series: dict[str, list] = {"one process": [], "1 Celery worker": [], "2 Celery workers": []}
    for path in sorted(RESULTS.glob("payouts_*.json")):
        figures = json.loads(path.read_text())
        size = figures["earnings"]
        if figures.get("one_process_s"):
            payout_series["one process"].append((size, min(figures["one_process_s"])))
        for count, seconds in figures.get("workers", {}).items():
            label = "1 Celery worker" if count == "1" else f"{count} Celery workers"
            payout_series.setdefault(label, []).append((size, seconds))
    payout_series = {name: points for name, points in payout_series.items() if points}
    svg = "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H}" font-family="sans-serif" '
            'font-size="12">',
            '<rect width="100%" height="100%" fill="white"/>',
            panel(0, "Order pages (median)", "orders in the table", "ms", order_series),
            panel(W, "Payout run", "earnings", "seconds", payout_series),
            "</svg>",
        ]
    )
    (RESULTS / "scale.svg").write_text(svg + "\n")
    print(f"wrote {RESULTS / 'scale.svg'}")


if __name__ == "__main__":
    main()
