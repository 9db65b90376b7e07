"""Named parameter profiles; ``handbook`` is Le Borgne et al.'s published simulation.

Reference: Le Borgne, Siblini, Lebichot, Bontempi, "Reproducible Machine Learning for
Credit Card Fraud Detection - Practical Handbook", chapter "Transaction data simulator"
(5000 customers, 10000 terminals, 183 days from 2018-04-01, about 1.75M transactions
and 0.8 % fraud).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fraudlake.params import (
    CardTestingScenario,
    CompromisedCardsScenario,
    CompromisedTerminalsScenario,
    Drift,
    HighAmountScenario,
    LabelDelay,
    Scenarios,
    SimulateParams,
)

HANDBOOK_SEED = 0
HANDBOOK_START_DATE = dt.date(2018, 4, 1)
HANDBOOK_DAYS = 183

#: Run knobs a caller may still set under the handbook profile (value: the handbook's).
_RUN_KNOBS: dict[str, Any] = {
    "seed": HANDBOOK_SEED,
    "start_date": HANDBOOK_START_DATE,
    "days": HANDBOOK_DAYS,
}


def handbook_params(base: SimulateParams) -> SimulateParams:
    """The handbook's configuration, keeping only ``base``'s run knobs and extras.

    Fixed to the handbook: 5000 customers, 10000 terminals, grid 100, radius 5, one card
    per customer; (a) high amount > 220; (b) 2 terminals/day for 28 days; (c) 3
    cards/day for 14 days, share 1/3, amounts x 5; (d) card testing off; drift off;
    labels exactly 7 days after the transaction.

    ``seed``, ``start_date`` and ``days`` are the handbook's (0, 2018-04-01, 183) unless
    ``base`` sets them explicitly (pydantic's ``model_fields_set``): so
    ``SimulateParams(profile="handbook")`` is the published run and
    ``SimulateParams(profile="handbook", days=30)`` a 30-day one. ``params.yaml`` sets
    all three explicitly, so they apply there too: use 0 / "2018-04-01" / 183 in it for
    the published run. ``currency`` and ``fraud_intel`` (not part of the handbook) come
    from ``base``. Idempotent: applying it twice gives the same parameters.
    """
    run = {
        name: getattr(base, name) if name in base.model_fields_set else value
        for name, value in _RUN_KNOBS.items()
    }
    return SimulateParams(
        profile="handbook",
        seed=run["seed"],
        start_date=run["start_date"],
        days=run["days"],
        n_customers=5000,
        n_terminals=10000,
        grid_size=100.0,
        terminal_radius=5.0,
        max_cards_per_customer=1,
        currency=base.currency,
        scenarios=Scenarios(
            high_amount=HighAmountScenario(enabled=True, threshold=220.0),
            compromised_terminals=CompromisedTerminalsScenario(
                enabled=True, per_day=2, duration_days=28
            ),
            compromised_cards=CompromisedCardsScenario(
                enabled=True, per_day=3, duration_days=14, share=1 / 3, amount_factor=5.0
            ),
            card_testing=CardTestingScenario(enabled=False),
        ),
        labels=LabelDelay(delay_days_min=7, delay_days_max=7),
        fraud_intel=base.fraud_intel,
        drift=Drift(enabled=False),
    )
