"""NumPy columns to Arrow tables that match the contract schemas exactly.

Strings are built with ``take`` from small dictionaries (categories, scenario names,
card numbers), never row by row; timestamps reinterpret the int64 microseconds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudlake import schemas
from fraudlake.simulation.arrays import IntArray
from fraudlake.simulation.feeds import IntelReports, Labels
from fraudlake.simulation.frame import NO_INCIDENT, SCENARIO_LABELS, Scenario, TxFrame
from fraudlake.simulation.population import (
    MERCHANT_CATEGORIES,
    REGIONS,
    SEGMENTS,
    Population,
    region_codes,
    segment_codes,
)
from fraudlake.simulation.result import INCIDENTS, TERMINALS, TRUTH
from fraudlake.simulation.scenarios import Incidents

INTEL_SOURCE = "intel-feed"


def _lookup(names: tuple[str, ...] | pa.Array, codes: IntArray) -> pa.Array:
    """``names[codes]`` as a plain Arrow string array."""
    dictionary = names if isinstance(names, pa.Array) else pa.array(names, pa.string())
    return pc.take(dictionary, pa.array(codes, pa.int64()))


def _ts(us: IntArray) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=schemas.TS)


def transactions_table(frame: TxFrame, pop: Population, currency: str) -> pa.Table:
    """:data:`fraudlake.schemas.RAW_TRANSACTIONS` rows of ``frame``; ids are row positions."""
    n = len(frame)
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(n, dtype=np.int64)),
            _ts(frame.ts_us),
            pa.array(frame.customer),
            _lookup(pop.card_numbers, frame.card),
            pa.array(frame.terminal),
            pa.array(pop.terminal_x[frame.terminal]),
            pa.array(pop.terminal_y[frame.terminal]),
            _lookup(MERCHANT_CATEGORIES, pop.terminal_category[frame.terminal]),
            pa.array(frame.amount),
            _lookup((currency,), np.zeros(n, dtype=np.int64)),
        ],
        schema=schemas.RAW_TRANSACTIONS,
    )


def customers_table(pop: Population, profile_date: dt.date) -> pa.Table:
    """:data:`fraudlake.schemas.CUSTOMERS`: one row per customer, by id."""
    n = pop.n_customers
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(n, dtype=np.int64)),
            pa.array(pop.home_x),
            pa.array(pop.home_y),
            pa.array(pop.mean_amount),
            pa.array(pop.std_amount),
            pa.array(pop.mean_tx_per_day),
            _lookup(SEGMENTS, segment_codes(pop.mean_amount, pop.mean_tx_per_day)),
            _lookup(REGIONS, region_codes(pop.home_x, pop.home_y, pop.grid_size)),
            pa.array(pop.cards_per_customer.astype(np.int32)),
            pa.array([profile_date] * n, pa.date32()),
        ],
        schema=schemas.CUSTOMERS,
    )


def terminals_table(pop: Population) -> pa.Table:
    """:data:`~fraudlake.simulation.result.TERMINALS`: one row per terminal, by id."""
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(pop.n_terminals, dtype=np.int64)),
            pa.array(pop.terminal_x),
            pa.array(pop.terminal_y),
            _lookup(MERCHANT_CATEGORIES, pop.terminal_category),
        ],
        schema=TERMINALS,
    )


def truth_table(frame: TxFrame) -> pa.Table:
    """:data:`~fraudlake.simulation.result.TRUTH`: row i describes transaction i."""
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(len(frame), dtype=np.int64)),
            pa.array(frame.scenario != Scenario.NONE),
            _lookup(SCENARIO_LABELS, frame.scenario),
            pa.array(frame.incident, mask=frame.incident == NO_INCIDENT),
        ],
        schema=TRUTH,
    )


def incidents_table(incidents: Incidents, pop: Population) -> pa.Table:
    """:data:`~fraudlake.simulation.result.INCIDENTS`, ``incident_id`` = row position."""
    # Null indices make ``take`` return nulls: card and owner are null for terminals.
    no_card = incidents.card == NO_INCIDENT
    card = np.where(no_card, 0, incidents.card)
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(len(incidents), dtype=np.int64)),
            _lookup(SCENARIO_LABELS, incidents.scenario),
            pa.array(incidents.terminal, mask=incidents.terminal == NO_INCIDENT),
            pc.take(pop.card_numbers, pa.array(card, mask=no_card)),
            pa.array(pop.card_owner[card], mask=no_card),
            _ts(incidents.start_us),
            _ts(incidents.end_us),
        ],
        schema=INCIDENTS,
    )


def labels_table(labels: Labels) -> pa.Table:
    """:data:`fraudlake.schemas.LABELS`: every row ``is_fraud = True``."""
    n = len(labels.transaction)
    return pa.Table.from_arrays(
        [
            pa.array(labels.transaction),
            pa.array(np.ones(n, dtype=np.bool_)),
            _lookup(SCENARIO_LABELS, labels.scenario),
            _ts(labels.reported_us),
        ],
        schema=schemas.LABELS,
    )


def fraud_intel_table(reports: IntelReports) -> pa.Table:
    """:data:`fraudlake.schemas.FRAUD_INTEL`, source :data:`INTEL_SOURCE`."""
    n = len(reports.terminal)
    return pa.Table.from_arrays(
        [
            pa.array(reports.terminal),
            _ts(reports.compromised_from_us),
            _ts(reports.reported_us),
            _lookup((INTEL_SOURCE,), np.zeros(n, dtype=np.int64)),
        ],
        schema=schemas.FRAUD_INTEL,
    )
