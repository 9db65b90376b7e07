"""The model card of a registered version: what it was trained on, how it does overall and
for each customer segment and region, and the thresholds that turn its score into a
decision — one self-contained HTML page (logged to the version's MLflow run).

Per group the card gives the approval rate (the share a customer of that group gets
through without review) and the false-positive rate (genuine transactions sent to review
or declined): the seed's model-bias risk is a model that stops honest customers of one
segment or region more often than others. The decision rule is serving's
(:func:`~fraudlake.training.metrics.threshold_metrics`: ``score >= threshold``).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fraudlake.params import DecisionParams
from fraudlake.training.metrics import threshold_metrics

#: The customer attributes the card breaks the metrics down by.
GROUPS = ("segment", "region")


@dataclass(frozen=True)
class GroupRates:
    """Decisions and errors of one group (``overall``, or a segment or region value)."""

    group: str
    value: str
    transactions: int
    frauds: int
    approval_rate: float
    decline_rate: float
    false_positive_rate: float
    recall: float


@dataclass(frozen=True)
class ModelCard:
    model_name: str
    version: int
    family: str
    run_id: str
    train_window: str
    test_window: str
    features: Sequence[str]
    metrics: Mapping[str, float]
    thresholds: DecisionParams
    rates: Sequence[GroupRates]
    lineage: Mapping[str, str] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def largest_gap(self, group: str) -> float:
        """The widest spread of false-positive rates between values of ``group``."""
        values = [r.false_positive_rate for r in self.rates if r.group == group]
        return max(values) - min(values) if values else 0.0


def group_rates(frame: pd.DataFrame, thresholds: DecisionParams) -> list[GroupRates]:
    """Overall, then per value of every :data:`GROUPS` column of ``frame`` (sorted), the
    rates of :class:`GroupRates`. ``frame`` holds ``is_fraud``, ``score`` and the groups."""
    missing = [c for c in ("is_fraud", "score", *GROUPS) if c not in frame.columns]
    if missing:
        raise KeyError(f"the model card needs columns {missing}")
    rows = [_rates("overall", "all", frame, thresholds)]
    for group in GROUPS:
        for value, part in sorted(frame.groupby(group, observed=True), key=lambda kv: str(kv[0])):
            rows.append(_rates(group, str(value), part, thresholds))
    return rows


def _rates(group: str, value: str, part: pd.DataFrame, thresholds: DecisionParams) -> GroupRates:
    y = part["is_fraud"].to_numpy().astype(int)
    s = part["score"].to_numpy(dtype=np.float64)
    review = threshold_metrics(y, s, thresholds.review_threshold)
    decline = threshold_metrics(y, s, thresholds.decline_threshold)
    return GroupRates(
        group=group,
        value=value,
        transactions=int(y.size),
        frauds=int(y.sum()),
        approval_rate=1.0 - review.alert_rate,
        decline_rate=decline.alert_rate,
        false_positive_rate=review.fpr,
        recall=review.recall,
    )


def _chart(rates: Sequence[GroupRates]) -> str:
    """Approval and false-positive rate per segment and region, as a PNG data URI."""
    groups = [r for r in rates if r.group != "overall"]
    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    labels = [f"{r.group}: {r.value}" for r in groups]
    y = np.arange(len(groups))
    left.barh(y, [r.approval_rate for r in groups], color="#4c72b0")
    left.set_yticks(y, labels)
    left.set_xlabel("approval rate")
    left.set_xlim(0, 1)
    right.barh(y, [r.false_positive_rate for r in groups], color="#dd8452")
    right.set_yticks(y, [""] * len(groups))
    right.set_xlabel("false-positive rate (genuine flagged)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def render_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page (the chart inline)."""
    e = html.escape
    rate_rows = "\n".join(
        f"<tr><td>{e(r.group)}</td><td>{e(r.value)}</td><td>{r.transactions:,}</td>"
        f"<td>{r.frauds:,}</td><td>{r.approval_rate:.4f}</td><td>{r.decline_rate:.4f}</td>"
        f"<td>{r.false_positive_rate:.4f}</td><td>{r.recall:.4f}</td></tr>"
        for r in card.rates
    )
    metric_rows = "\n".join(
        f"<tr><td>{e(k)}</td><td>{v:.4f}</td></tr>" for k, v in sorted(card.metrics.items())
    )
    lineage_rows = "\n".join(
        f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in sorted(card.lineage.items())
    )
    gaps = ", ".join(f"{g} {card.largest_gap(g):.4f}" for g in GROUPS)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{e(card.model_name)} v{card.version} model card</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
th{{background:#f3f3f3}}</style></head><body>
<h1>{e(card.model_name)} version {card.version} ({e(card.family)})</h1>
<p>MLflow run <code>{e(card.run_id)}</code>; card written {card.created_at:%Y-%m-%d %H:%M UTC}.</p>
<h2>Data</h2>
<p>Trained on <b>{e(card.train_window)}</b>, tested on <b>{e(card.test_window)}</b>
(time-ordered hold-out). {len(card.features)} features:
<code>{e(", ".join(card.features))}</code>.</p>
<h2>Decision thresholds</h2>
<p>score &ge; {card.thresholds.review_threshold:g}: review; score &ge;
{card.thresholds.decline_threshold:g}: decline; otherwise approve.</p>
<h2>Metrics on the hold-out</h2>
<table><tr><th>metric</th><th>value</th></tr>
{metric_rows}
</table>
<h2>By customer segment and region</h2>
<p>Approval rate: share approved without review. False-positive rate: genuine
transactions sent to review or declined. Largest false-positive-rate gap between
values: {gaps}.</p>
<img alt="approval and false-positive rate by segment and region" src="{_chart(card.rates)}">
<table><tr><th>group</th><th>value</th><th>transactions</th><th>frauds</th>
<th>approval rate</th><th>decline rate</th><th>false-positive rate</th><th>recall</th></tr>
{rate_rows}
</table>
<h2>Lineage</h2>
<table><tr><th>what</th><th>value</th></tr>
{lineage_rows}
</table>
</body></html>
"""
