"""Bar charts drawn on the server as inline SVG: no chart library, nothing loaded from outside."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str
    series: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, str]]
    maximum: float
    title: str
    baseline: float


def bar_chart(rows: list[tuple[str, list[float]]], *, title: str, width: int = 720, height: int = 220) -> Chart:
    """`rows` are (label, [value per series]); up to two series are drawn side by side."""
    top, bottom, left = 16, 36, 8
    plot_h = height - top - bottom
    maximum = max((v for _, values in rows for v in values), default=0) or 1
    slot = (width - left * 2) / max(len(rows), 1)
    series = max((len(values) for _, values in rows), default=1)
    bar_w = max(slot * 0.8 / series, 1)
    bars, labels = [], []
    every = max(1, len(rows) // 15)
    for i, (label, values) in enumerate(rows):
        x0 = left + i * slot + slot * 0.1
        for s, value in enumerate(values):
            h = plot_h * value / maximum
            bars.append(Bar(x0 + s * bar_w, top + plot_h - h, bar_w, h, value, label, s))
        if i % every == 0:
            labels.append((left + i * slot + slot / 2, label))
    return Chart(width, height, bars, labels, maximum, title, top + plot_h)
