"""What :func:`fraudlake.simulation.simulate` returns, and the schemas of its extra tables.

``transactions``, ``customers``, ``labels`` and ``fraud_intel`` follow the raw-batch
contract in :mod:`fraudlake.schemas`. ``terminals``, ``truth`` and ``incidents`` are the
simulator's own ground truth, for tests and evaluation; no real feed has them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from fraudlake.params import SimulateParams
from fraudlake.schemas import TS

#: Terminal locations on the grid and their merchant category.
TERMINALS = pa.schema(
    [
        pa.field("terminal_id", pa.int64(), nullable=False),
        pa.field("x", pa.float64(), nullable=False),
        pa.field("y", pa.float64(), nullable=False),
        pa.field("merchant_category", pa.string(), nullable=False),
    ]
)

#: One row per transaction, aligned with ``transactions``: is it fraud, why, and which
#: incident (row of ``incidents``) made it so; ``incident_id`` is null for genuine
#: transactions and for high-amount frauds, which no incident explains.
TRUTH = pa.schema(
    [
        pa.field("transaction_id", pa.int64(), nullable=False),
        pa.field("is_fraud", pa.bool_(), nullable=False),
        pa.field("fraud_scenario", pa.string(), nullable=False),
        pa.field("incident_id", pa.int64(), nullable=True),
    ]
)

#: Compromise events: a terminal or card compromised (or a card-testing burst, or a
#: drift-night event) active on ``[start_ts, end_ts)``. ``terminal_id`` is set for
#: compromised terminals, ``card_number`` and ``customer_id`` for the card scenarios.
#: ``end_ts`` may lie after the end of the simulation.
INCIDENTS = pa.schema(
    [
        pa.field("incident_id", pa.int64(), nullable=False),
        pa.field("fraud_scenario", pa.string(), nullable=False),
        pa.field("terminal_id", pa.int64(), nullable=True),
        pa.field("card_number", pa.string(), nullable=True),
        pa.field("customer_id", pa.int64(), nullable=True),
        pa.field("start_ts", TS, nullable=False),
        pa.field("end_ts", TS, nullable=False),
    ]
)


@dataclass(frozen=True)
class Simulation:
    """A complete simulated world, as Arrow tables.

    - ``params``: the parameters actually used (the handbook profile already applied);
    - ``transactions`` (:data:`fraudlake.schemas.RAW_TRANSACTIONS`): sorted by
      ``event_ts``, ``transaction_id`` = 0..N-1 in that order;
    - ``customers`` (:data:`fraudlake.schemas.CUSTOMERS`), by ``customer_id``;
    - ``labels`` (:data:`fraudlake.schemas.LABELS`): frauds known by the end, sorted by
      ``reported_at``;
    - ``fraud_intel`` (:data:`fraudlake.schemas.FRAUD_INTEL`), sorted by ``reported_at``;
    - ``terminals`` (:data:`TERMINALS`), ``truth`` (:data:`TRUTH`, row i is
      transaction i) and ``incidents`` (:data:`INCIDENTS`).
    """

    params: SimulateParams
    transactions: pa.Table
    customers: pa.Table
    labels: pa.Table
    fraud_intel: pa.Table
    terminals: pa.Table
    truth: pa.Table
    incidents: pa.Table
