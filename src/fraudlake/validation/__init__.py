"""Data-validation gate: Great Expectations suites for every raw batch kind.

Usage, once per run::

    validator = BatchValidator(root, ValidationRules.from_params(params))
    outcome = validator.validate("transactions", frame, "2024-01-01", day, customer_ids)
    ...  # every batch of the run
    validator.build_docs()
    if not outcome.success:
        quarantine(...)  # the caller's job
        raise StageFailed(summary(outcome))

The names below are imported on first use: GX takes seconds to import, and modules that
only need the rules (the scoring API's payload limits) must not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraudlake.validation.gate import BatchValidator
    from fraudlake.validation.outcome import FailedExpectation, ValidationOutcome, summary
    from fraudlake.validation.rules import ValidationRules
    from fraudlake.validation.suites import VALIDATED_SCHEMAS, build_suite

#: Public name → the module defining it.
_EXPORTS = {
    "BatchValidator": "fraudlake.validation.gate",
    "FailedExpectation": "fraudlake.validation.outcome",
    "ValidationOutcome": "fraudlake.validation.outcome",
    "summary": "fraudlake.validation.outcome",
    "ValidationRules": "fraudlake.validation.rules",
    "VALIDATED_SCHEMAS": "fraudlake.validation.suites",
    "build_suite": "fraudlake.validation.suites",
}

__all__ = [
    "VALIDATED_SCHEMAS",
    "BatchValidator",
    "FailedExpectation",
    "ValidationOutcome",
    "ValidationRules",
    "build_suite",
    "summary",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
