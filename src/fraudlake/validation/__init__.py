"""Data-validation gate: Great Expectations suites for every raw batch kind.

Usage, once per run::

    validator = BatchValidator(root, ValidationRules.from_params(params))
    outcome = validator.validate("transactions", frame, "2024-01-01", day, customer_ids)
    ...  # every batch of the run
    validator.build_docs()
    if not outcome.success:
        quarantine(...)  # the caller's job
        raise StageFailed(summary(outcome))
"""

from fraudlake.validation.gate import BatchValidator
from fraudlake.validation.outcome import FailedExpectation, ValidationOutcome, summary
from fraudlake.validation.rules import ValidationRules
from fraudlake.validation.suites import VALIDATED_SCHEMAS, build_suite

__all__ = [
    "VALIDATED_SCHEMAS",
    "BatchValidator",
    "FailedExpectation",
    "ValidationOutcome",
    "ValidationRules",
    "build_suite",
    "summary",
]
