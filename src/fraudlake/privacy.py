"""Card-number pseudonymisation with a keyed HMAC, applied before anything lands.

The same card and key always give the same ``card_id``, so features can follow a card,
while the card number cannot be recovered without the key.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

CARD_ID_HEX_CHARS = 32


def card_id(card_number: str, key: bytes) -> str:
    """HMAC-SHA256 of the card number under ``key``, hex, truncated to 128 bits."""
    return hmac.new(key, card_number.encode(), hashlib.sha256).hexdigest()[:CARD_ID_HEX_CHARS]


def pseudonymise_cards(card_numbers: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """``card_id`` of every card number; hashes each distinct card once."""
    encoded = pc.dictionary_encode(card_numbers)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    ids = pa.array([card_id(c, key) for c in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(ids, encoded.indices)


def pseudonymise_transactions(raw: pa.Table, key: bytes) -> pa.Table:
    """Replace ``card_number`` with ``card_id`` in place of the column; others unchanged."""
    if "card_number" not in raw.column_names:
        return raw
    index = raw.schema.get_field_index("card_number")
    return raw.set_column(
        index,
        pa.field("card_id", pa.string(), nullable=False),
        pseudonymise_cards(raw.column("card_number"), key),
    )
