"""The drift verdict: pure thresholding of the drifted-feature share, and its record.

The seed paper's rule (monitoring section, "Data Drift"): more than 15 % of features
drifting triggers an investigation, more than 25 % triggers retraining. Both bounds are
*strict* — a share exactly at ``investigate_share`` is still ``ok``, exactly at
``retrain_share`` is still ``investigate``.

:class:`DriftVerdict` is what a drift run leaves behind as ``verdict.json``: the decision,
the evidence (per-feature scores and the test used) and where the Evidently reports are.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fraudlake.atomic_write import write_text_atomic
from fraudlake.monitoring.windows import Window
from fraudlake.params import DriftParams

#: What a drift run recommends.
VerdictLabel = Literal["ok", "investigate", "retrain"]

#: File name of the verdict inside a run's output folder.
VERDICT_FILE = "verdict.json"


def drift_verdict(share_drifted: float, params: DriftParams) -> VerdictLabel:
    """Map the share of drifted features to a verdict.

    ``share > retrain_share`` → ``"retrain"``; else ``share > investigate_share`` →
    ``"investigate"``; else ``"ok"``.

    Raises:
        ValueError: ``share_drifted`` is NaN or outside ``[0, 1]``, or
            ``investigate_share > retrain_share`` (the thresholds would contradict).
    """
    if math.isnan(share_drifted) or not 0.0 <= share_drifted <= 1.0:
        raise ValueError(f"share_drifted must be in [0, 1], got {share_drifted}")
    if params.investigate_share > params.retrain_share:
        raise ValueError(
            f"drift.investigate_share ({params.investigate_share}) must not exceed "
            f"drift.retrain_share ({params.retrain_share})"
        )
    if share_drifted > params.retrain_share:
        return "retrain"
    if share_drifted > params.investigate_share:
        return "investigate"
    return "ok"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureDrift(_Frozen):
    """Drift of one feature as Evidently measured it.

    ``score`` is the test's statistic: a p-value for tests such as K-S (drift when
    ``score < threshold``) or a distance such as normed Wasserstein or PSI (drift when
    ``score >= threshold``). ``drifted`` is Evidently's own decision, not recomputed here.
    """

    stattest: str
    threshold: float
    score: float
    drifted: bool


class Thresholds(_Frozen):
    """The verdict's bounds on the drifted share (copied from :class:`DriftParams`)."""

    investigate_share: float
    retrain_share: float


class Sampling(_Frozen):
    """How many rows per side went into the reports.

    When a side had more than ``max_rows`` rows, ``max_rows`` of them were drawn uniformly
    without replacement with ``seed`` (the same inputs always give the same sample).
    """

    max_rows: int | None
    seed: int
    reference_rows: int = Field(ge=0)
    current_rows: int = Field(ge=0)
    reference_sampled: bool
    current_sampled: bool

    @property
    def sampled(self) -> bool:
        """True when either side was down-sampled."""
        return self.reference_sampled or self.current_sampled


class ReportPaths(_Frozen):
    """Files a drift run wrote. Classification paths are ``None`` when that report was skipped."""

    data_drift_html: Path
    data_drift_json: Path
    classification_html: Path | None = None
    classification_json: Path | None = None
    verdict_json: Path


class DriftVerdict(_Frozen):
    """Outcome of one drift run; serialised as ``verdict.json``.

    Invariants (validated): ``n_drifted == len(drifted_features)``,
    ``n_features == len(features)``, ``share_drifted == n_drifted / n_features``,
    ``drifted_features`` are exactly the features whose ``drifted`` flag is set, in
    ``features`` order, and ``verdict`` agrees with :func:`drift_verdict` on
    ``share_drifted`` and ``thresholds``.
    """

    verdict: VerdictLabel
    share_drifted: float = Field(ge=0, le=1)
    n_drifted: int = Field(ge=0)
    n_features: int = Field(ge=1)
    drifted_features: list[str]
    features: dict[str, FeatureDrift]
    thresholds: Thresholds
    reference: Window
    current: Window
    sampling: Sampling
    classification_skipped: str | None = None
    """Why no classification report was made, when target/prediction were asked for."""
    generated_at: AwareDatetime
    evidently_version: str
    reports: ReportPaths

    @model_validator(mode="after")
    def _consistent(self) -> DriftVerdict:
        drifted = [name for name, f in self.features.items() if f.drifted]
        if drifted != self.drifted_features:
            raise ValueError(f"drifted_features {self.drifted_features} != flagged {drifted}")
        if self.n_drifted != len(drifted) or self.n_features != len(self.features):
            raise ValueError(
                f"counts ({self.n_drifted}/{self.n_features}) disagree with features "
                f"({len(drifted)}/{len(self.features)})"
            )
        if not math.isclose(self.share_drifted, self.n_drifted / self.n_features, abs_tol=1e-9):
            raise ValueError(
                f"share_drifted {self.share_drifted} != {self.n_drifted}/{self.n_features}"
            )
        params = DriftParams(
            investigate_share=self.thresholds.investigate_share,
            retrain_share=self.thresholds.retrain_share,
        )
        expected = drift_verdict(self.share_drifted, params)
        if self.verdict != expected:
            raise ValueError(f"verdict {self.verdict!r} but the share implies {expected!r}")
        return self

    def write(self, path: Path | None = None) -> Path:
        """Write indented JSON atomically to ``path`` (default ``reports.verdict_json``)."""
        target = Path(path) if path is not None else self.reports.verdict_json
        return write_text_atomic(target, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: Path | str) -> DriftVerdict:
        """Load and validate a ``verdict.json``."""
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def utc_now() -> dt.datetime:
    """Current time, tz-aware UTC (the ``generated_at`` stamp)."""
    return dt.datetime.now(dt.UTC)
