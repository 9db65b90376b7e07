"""Custom Great Expectations expectation the built-in catalogue lacks: calendar-date values.

Arrow ``date32`` columns (``CUSTOMERS.profile_date``) arrive in pandas as an ``object``
column of :class:`datetime.date` values, the default of ``pyarrow.Table.to_pandas``. GX's
``ExpectColumnValuesToBeOfType`` cannot name that type for pandas, so this module adds
``expect_column_values_to_be_calendar_dates``: every non-null value must be a
:class:`datetime.date` that is not a :class:`datetime.datetime` (a timestamp is not a
calendar date). Nulls are left to ``expect_column_values_to_not_be_null``.

Importing this module registers the metric and the expectation with GX; suites that use
the expectation must be built or loaded after the import (``suites.py`` imports it).
Only the pandas engine is implemented: the gate validates pandas frames.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

#: GX name of the map metric behind :class:`ExpectColumnValuesToBeCalendarDates`.
CALENDAR_DATE_METRIC = "column_values.fraudlake_calendar_date"


def is_calendar_date(value: object) -> bool:
    """True for a :class:`datetime.date` that is not a :class:`datetime.datetime`."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


class ColumnValuesCalendarDate(ColumnMapMetricProvider):
    """Map metric: is each (non-null) value a calendar date?"""

    condition_metric_name = CALENDAR_DATE_METRIC

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(is_calendar_date).astype(bool)


class ExpectColumnValuesToBeCalendarDates(ColumnMapExpectation):
    """Expect each non-null column value to be a ``datetime.date`` (not a timestamp).

    The pandas counterpart of an Arrow ``date32`` column; fails, value by value, on
    strings, numbers and timestamps.
    """

    description: str | None = "values must be calendar dates (datetime.date, not timestamps)"

    map_metric = CALENDAR_DATE_METRIC
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, str | list[str] | bool]] = {
        "maturity": "production",
        "tags": ["fraudlake", "type"],
        "contributors": ["fraudlake"],
    }
