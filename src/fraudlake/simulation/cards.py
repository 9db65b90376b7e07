"""PAN-like card numbers: 16 digits, Visa-like prefix ``4``, valid Luhn check digit.

The numbers look real enough for validation rules (length, digits only, Luhn) to apply,
yet are random draws, so they identify no real card.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

#: Number of random digits between the prefix and the check digit.
_BODY_DIGITS = 14
_PREFIX = 4


def luhn_check_digit(payload: npt.NDArray[np.int64], n_digits: int) -> npt.NDArray[np.int64]:
    """Luhn check digit of each ``n_digits``-digit ``payload`` (check digit not included).

    Counting from the payload's rightmost digit, every first, third, ... digit is doubled
    (its position once the check digit is appended is even), doubled digits above 9 lose 9.
    """
    total = np.zeros(payload.shape, dtype=np.int64)
    rest = payload.copy()
    for position in range(n_digits):
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
    return (10 - total % 10) % 10


def card_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` distinct 16-digit card numbers as an Arrow string array, deterministic in ``rng``.

    Bodies are drawn uniformly from 10^14 values; the rare duplicates are redrawn until
    all are distinct, so uniqueness is guaranteed, not just likely.
    """
    body = rng.integers(0, 10**_BODY_DIGITS, n, dtype=np.int64)
    while True:
        _, first = np.unique(body, return_index=True)
        duplicate = np.ones(n, dtype=bool)
        duplicate[first] = False
        if not duplicate.any():
            break
        body[duplicate] = rng.integers(0, 10**_BODY_DIGITS, int(duplicate.sum()), dtype=np.int64)
    payload = _PREFIX * 10**_BODY_DIGITS + body
    full = payload * 10 + luhn_check_digit(payload, _BODY_DIGITS + 1)
    # The leading 4 means no zero padding is ever needed: every number has 16 digits.
    return pa.array(full, pa.int64()).cast(pa.string())
