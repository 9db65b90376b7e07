"""`fraudlake online migrate-layout`: a store in the old member layout, converted in place,
reads exactly as one the current writer wrote."""

from __future__ import annotations

import pytest
import redis
from typer.testing import CliRunner

from fraudlake.cli import app
from fraudlake.features.definitions import FeatureSet
from fraudlake.online.migrate_layout import migrate_members, window_sets
from fraudlake.online.profiles import write_profiles
from fraudlake.online.reader import OnlineFeatureReader
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.stream_features.events import KnownFraud, Transaction
from fraudlake.stream_features.plan import build_stages
from tests.features.data import random_dataset


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


def _to_old_layout(client: redis.Redis) -> int:
    """What versions before the layout change wrote: ``<transaction_id>:<value>``."""
    members = 0
    for key in window_sets(client):
        for member, score in client.zrange(key, 0, -1, withscores=True):
            event_us, rest = member.split(b":", 1)
            assert int(event_us) == score
            client.zadd(key, {rest: score})  # first, so the set never empties (keeps its TTL)
            client.zrem(key, member)
            members += 1
    return members


@pytest.fixture
def store(online: redis.Redis, feature_set: FeatureSet) -> tuple[list[Transaction], list]:
    """A store the current writer filled, the features it gives, then made old."""
    tx, customers, _ = random_dataset(5, n=400)
    txs = [Transaction.from_row(r) for r in tx.to_pylist()]
    frauds = [KnownFraud(t, t.event_us + 7) for t in txs[::9]]
    OnlineStoreWriter(online, build_stages(feature_set)).write(txs, frauds)
    write_profiles(online, customers.to_pylist())
    expected = OnlineFeatureReader(online, feature_set).features_for_many(txs)
    return txs, expected


def test_an_old_store_converted_in_place_reads_as_the_current_writer_wrote(
    online: redis.Redis, feature_set: FeatureSet, store: tuple[list[Transaction], list]
) -> None:
    txs, expected = store
    ttls = {key: online.ttl(key) for key in window_sets(online)}
    old = _to_old_layout(online)
    reader = OnlineFeatureReader(online, feature_set)
    with pytest.raises(ValueError, match="online migrate-layout"):
        reader.features_for_many(txs)

    # A dry run counts and changes nothing: the reader still refuses the store.
    counted = migrate_members(online, window_sets(online), dry_run=True)
    assert counted.members_rewritten == old
    with pytest.raises(ValueError, match="online migrate-layout"):
        reader.features_for_many(txs)

    done = migrate_members(online, window_sets(online))
    assert (done.members_rewritten, done.sets_rewritten) == (old, len(ttls))
    assert reader.features_for_many(txs) == expected
    # Every set keeps an expiry (a set emptied inside the MULTI would otherwise lose it).
    assert all(0 < online.ttl(key) <= ttls[key] for key in window_sets(online))
    again = migrate_members(online, window_sets(online))
    assert (again.sets_scanned, again.members_rewritten) == (len(ttls), 0)


def test_a_member_in_neither_form_is_named_and_its_set_left_alone(online: redis.Redis) -> None:
    online.zadd("fl:card:abc:tx", {"17:250": 5, "not-a-member": 6})
    with pytest.raises(ValueError, match=r"fl:card:abc:tx.*b'not-a-member'"):
        migrate_members(online, window_sets(online))
    assert set(online.zrange("fl:card:abc:tx", 0, -1)) == {b"17:250", b"not-a-member"}


def test_the_command_says_what_it_did(
    online: redis.Redis, store: tuple[list[Transaction], list]
) -> None:
    old = _to_old_layout(online)
    runner = CliRunner()
    dry = runner.invoke(app, ["online", "migrate-layout", "--redis-url", _url(online), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would rewrite {old:,} members" in dry.output
    done = runner.invoke(app, ["online", "migrate-layout", "--redis-url", _url(online)])
    assert done.exit_code == 0, done.output
    assert f"rewrote {old:,} members" in done.output
    again = runner.invoke(app, ["online", "migrate-layout", "--redis-url", _url(online)])
    assert "rewrote 0 members" in again.output
