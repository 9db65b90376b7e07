"""Keys and members of the online store, read back (pure; no Redis)."""

from __future__ import annotations

from fraudlake.online.layout import (
    StoreKey,
    fraud_member,
    frauds_key,
    member_transaction_id,
    profile_key,
    read_key,
    transaction_member,
    transactions_key,
)


def test_every_key_the_layout_writes_reads_back_as_what_it_holds() -> None:
    for prefix in ("fl", "team-a:fl"):  # a prefix may hold a colon itself
        written = {
            transactions_key(prefix, "card", "ab12"): StoreKey("tx", "card", b""),
            frauds_key(prefix, "terminal", "77"): StoreKey("fraud", "terminal", b""),
            transactions_key(prefix, "customer_terminal", "5|77"): StoreKey(
                "tx", "customer_terminal", b""
            ),
            profile_key(prefix, 42): StoreKey("profile", "customer", b""),
        }
        for key, expected in written.items():
            found = read_key(prefix, key.encode())
            assert found == StoreKey(expected.kind, expected.entity, key.encode())


def test_keys_outside_the_layout_are_not_the_stores() -> None:
    for key in (
        b"other:card:1:tx",
        b"fl:card:1:txs",
        b"fl:customer",
        b"fl:customer:1:extra",
        b"fl",
    ):
        assert read_key("fl", key) is None
    # Another store's keys under a longer prefix are not this one's.
    assert read_key("fl", transactions_key("fl2", "card", "1").encode()) is None


def test_members_carry_the_transaction_id() -> None:
    assert (
        member_transaction_id(transaction_member(1_700_000_000_000_000, 987, 1250).encode()) == 987
    )
    assert member_transaction_id(fraud_member(1, 654, 2).encode()) == 654
