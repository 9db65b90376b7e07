"""Evaluation charts as matplotlib figures, drawn off-screen.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly —
no ``pyplot``, no global backend switch, nothing kept open — so they work headless and in
threads. Save one with :func:`save_png` or hand it to ``mlflow.log_figure``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from fraudlake.params import DecisionParams


def _figure(width: float = 6.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def pr_curve(y_true: npt.ArrayLike, scores: npt.ArrayLike, title: str, ap: float) -> Figure:
    """Precision-recall curve with the fraud base rate as a dashed baseline."""
    y = np.asarray(y_true).astype(int)
    precision, recall, _ = precision_recall_curve(y, np.asarray(scores, dtype=float))
    fig = _figure()
    ax = fig.add_subplot()
    ax.step(recall, precision, where="post", label=f"AP = {ap:.3f}")
    ax.axhline(y.mean(), color="grey", linestyle="--", label=f"base rate {y.mean():.2%}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(loc="upper right")
    return fig


def roc(y_true: npt.ArrayLike, scores: npt.ArrayLike, title: str, auc: float) -> Figure:
    """ROC curve with the chance diagonal."""
    fpr, tpr, _ = roc_curve(np.asarray(y_true).astype(int), np.asarray(scores, dtype=float))
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title=title)
    ax.legend(loc="lower right")
    return fig


def score_distribution(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, title: str, decision: DecisionParams
) -> Figure:
    """Score histograms of genuine and fraud transactions (density, log scale), with the
    review and decline thresholds marked."""
    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    bins = [i / 50 for i in range(51)]
    fig = _figure()
    ax = fig.add_subplot()
    for label, name, color in ((0, "genuine", "tab:blue"), (1, "fraud", "tab:red")):
        values = s[y == label]
        if values.size:
            ax.hist(values, bins=bins, density=True, alpha=0.55, color=color, label=name)
    ax.axvline(decision.review_threshold, color="orange", linestyle="--", label="review")
    ax.axvline(decision.decline_threshold, color="black", linestyle="--", label="decline")
    ax.set_yscale("log")
    ax.set(xlabel="score", ylabel="density (log)", title=title)
    ax.legend(loc="upper center")
    return fig


def feature_importance_chart(importance: pd.DataFrame, title: str, top: int = 30) -> Figure:
    """Horizontal bars of ``gain_share`` for the ``top`` features of an importance table
    (columns ``feature`` and ``gain_share``, as ``models.feature_importance`` returns)."""
    shown = importance.head(top).iloc[::-1]
    fig = _figure(7.0, max(2.5, 0.3 * len(shown) + 1.2))
    ax = fig.add_subplot()
    ax.barh(shown["feature"], shown["gain_share"], color="tab:green")
    ax.set(xlabel="share of total gain", title=title)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parents created); return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    return path
