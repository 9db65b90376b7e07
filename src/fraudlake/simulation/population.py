"""Who and where: customers, their cards, terminals, and which terminals each can reach.

Follows the Fraud Detection Handbook (Le Borgne et al., "Transaction data simulator"):
customers and terminals sit uniformly on a ``grid_size`` x ``grid_size`` square, a
customer spends ``mean_amount ~ U(5, 100)`` with ``std_amount = mean_amount / 2`` about
``mean_tx_per_day ~ U(0, 4)`` times a day, at the terminals within ``terminal_radius`` of
home. Our additions: cards per customer, merchant categories, segments and regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree

from fraudlake.params import SimulateParams
from fraudlake.simulation.arrays import FloatArray, IntArray
from fraudlake.simulation.cards import card_numbers
from fraudlake.simulation.streams import Stream, stream

#: Merchant categories of terminals, and how common each is.
MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurant",
    "fuel",
    "retail",
    "pharmacy",
    "travel",
    "entertainment",
    "online",
)
_CATEGORY_WEIGHTS = np.array([0.28, 0.16, 0.10, 0.16, 0.06, 0.06, 0.08, 0.10])

#: Customer segments, derived from spending habits by :func:`segment_codes`.
SEGMENTS: tuple[str, ...] = ("student", "mass", "affluent", "business")
#: Grid quadrants, derived from the home location by :func:`region_codes`.
REGIONS: tuple[str, ...] = ("north-west", "north-east", "south-west", "south-east")

# Segment rules (amounts in the simulation currency, U(5, 100) means).
_STUDENT_MAX_MEAN = 25.0
_AFFLUENT_MIN_MEAN = 70.0
_BUSINESS_MIN_MEAN = 50.0
_BUSINESS_MIN_TX_PER_DAY = 3.0


@dataclass(frozen=True)
class Population:
    """Customers, cards and terminals as parallel NumPy columns.

    Ids are positions: customer ``c`` is row ``c`` of the customer columns, card ``k``
    row ``k`` of the card columns, terminal ``t`` row ``t`` of the terminal columns.
    Cards are laid out customer by customer: customer ``c`` owns cards
    ``card_offsets[c] .. card_offsets[c + 1] - 1``. Likewise the terminals within reach
    of customer ``c`` are ``reach_terminals[reach_offsets[c] : reach_offsets[c + 1]]``
    (CSR layout, terminal ids ascending); a customer with none never transacts.
    """

    grid_size: float
    home_x: FloatArray
    home_y: FloatArray
    mean_amount: FloatArray
    std_amount: FloatArray
    mean_tx_per_day: FloatArray
    card_offsets: IntArray
    card_owner: IntArray
    card_numbers: pa.Array
    terminal_x: FloatArray
    terminal_y: FloatArray
    terminal_category: IntArray
    reach_offsets: IntArray
    reach_terminals: IntArray

    @property
    def n_customers(self) -> int:
        return len(self.home_x)

    @property
    def n_terminals(self) -> int:
        return len(self.terminal_x)

    @property
    def n_cards(self) -> int:
        return len(self.card_owner)

    @property
    def cards_per_customer(self) -> IntArray:
        return np.diff(self.card_offsets)

    @property
    def terminals_in_reach(self) -> IntArray:
        return np.diff(self.reach_offsets)


def build_population(params: SimulateParams) -> Population:
    """Draw customers, cards and terminals for ``params`` (independent seeded streams)."""
    size = params.grid_size
    n = params.n_customers
    rng = stream(params.seed, Stream.CUSTOMERS)
    home_x = rng.uniform(0, size, n)
    home_y = rng.uniform(0, size, n)
    mean_amount = rng.uniform(5, 100, n)
    mean_tx_per_day = rng.uniform(0, 4, n)
    n_cards = rng.integers(1, params.max_cards_per_customer + 1, n, dtype=np.int64)

    card_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_cards, out=card_offsets[1:])
    card_owner = np.repeat(np.arange(n, dtype=np.int64), n_cards)
    numbers = card_numbers(stream(params.seed, Stream.CARDS), int(card_offsets[-1]))

    rng = stream(params.seed, Stream.TERMINALS)
    terminal_x = rng.uniform(0, size, params.n_terminals)
    terminal_y = rng.uniform(0, size, params.n_terminals)
    category = rng.choice(len(MERCHANT_CATEGORIES), params.n_terminals, p=_CATEGORY_WEIGHTS)

    reach_offsets, reach_terminals = terminals_within(
        np.column_stack([home_x, home_y]),
        np.column_stack([terminal_x, terminal_y]),
        params.terminal_radius,
    )
    return Population(
        grid_size=size,
        home_x=home_x,
        home_y=home_y,
        mean_amount=mean_amount,
        std_amount=mean_amount / 2,
        mean_tx_per_day=mean_tx_per_day,
        card_offsets=card_offsets,
        card_owner=card_owner,
        card_numbers=numbers,
        terminal_x=terminal_x,
        terminal_y=terminal_y,
        terminal_category=category.astype(np.int64),
        reach_offsets=reach_offsets,
        reach_terminals=reach_terminals,
    )


def terminals_within(
    homes: FloatArray, terminals: FloatArray, radius: float
) -> tuple[IntArray, IntArray]:
    """CSR ``(offsets, terminal_ids)`` of the terminals within ``radius`` of each home.

    One k-d tree pair query instead of the handbook's per-customer distance scan.
    """
    pairs = cKDTree(homes).sparse_distance_matrix(cKDTree(terminals), radius, output_type="ndarray")
    order = np.lexsort((pairs["j"], pairs["i"]))
    owner = pairs["i"][order].astype(np.int64)
    offsets = np.zeros(len(homes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(homes)), out=offsets[1:])
    return offsets, pairs["j"][order].astype(np.int64)


def segment_codes(mean_amount: FloatArray, mean_tx_per_day: FloatArray) -> IntArray:
    """Index into :data:`SEGMENTS` of each customer, from spending habits.

    business: frequent (>= 3/day) and sizeable (mean >= 50) spending; affluent: mean
    >= 70 otherwise; student: mean < 25; mass: everyone else.
    """
    codes = np.full(mean_amount.shape, SEGMENTS.index("mass"), dtype=np.int64)
    codes[mean_amount < _STUDENT_MAX_MEAN] = SEGMENTS.index("student")
    codes[mean_amount >= _AFFLUENT_MIN_MEAN] = SEGMENTS.index("affluent")
    business = (mean_tx_per_day >= _BUSINESS_MIN_TX_PER_DAY) & (mean_amount >= _BUSINESS_MIN_MEAN)
    codes[business] = SEGMENTS.index("business")
    return codes


def region_codes(x: FloatArray, y: FloatArray, grid_size: float) -> IntArray:
    """Index into :data:`REGIONS` of each point: its grid quadrant, north = large ``y``."""
    half = grid_size / 2
    return (y < half).astype(np.int64) * 2 + (x >= half).astype(np.int64)
