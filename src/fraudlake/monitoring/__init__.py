"""Drift monitoring: choose windows, run Evidently reports, decide ok / investigate / retrain.

* :mod:`~fraudlake.monitoring.windows` — reference and current windows of a features frame;
* :mod:`~fraudlake.monitoring.drift` — Evidently reports and the :class:`DriftVerdict`;
* :mod:`~fraudlake.monitoring.verdict` — the pure thresholding and the verdict record.
"""

from fraudlake.monitoring.drift import DriftInputError, monitor_drift, run_drift
from fraudlake.monitoring.verdict import DriftVerdict, VerdictLabel, drift_verdict
from fraudlake.monitoring.windows import (
    DriftWindows,
    Window,
    WindowError,
    choose_windows,
    slice_window,
)

__all__ = [
    "DriftInputError",
    "DriftVerdict",
    "DriftWindows",
    "VerdictLabel",
    "Window",
    "WindowError",
    "choose_windows",
    "drift_verdict",
    "monitor_drift",
    "run_drift",
    "slice_window",
]
