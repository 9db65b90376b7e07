"""`fraudlake online load-profiles`: the lake's profiles land in Redis exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from fraudlake.cli import app
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import RAW_TABLES, ensure_table
from fraudlake.settings import Settings
from tests.features.data import make_customers


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI pointed at an empty embedded lake under ``tmp_path``."""
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path))
    for name in ("FRAUDLAKE_CATALOG_URI", "FRAUDLAKE_WAREHOUSE", "FRAUDLAKE_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return Settings(home=tmp_path, catalog_uri=None, warehouse=None, s3_endpoint=None)


def test_profiles_from_the_lake_land_in_redis(online: redis.Redis, embedded: Settings) -> None:
    customers = make_customers(7)
    ensure_table(open_catalog(embedded), RAW_TABLES["customers"]).append(customers)

    result = CliRunner().invoke(app, ["online", "load-profiles", "--redis-url", _url(online)])
    assert result.exit_code == 0, result.output
    for row in customers.to_pylist():
        stored = online.hgetall(f"fl:customer:{row['customer_id']}")
        assert float(stored[b"home_x"]) == row["home_x"]
        assert float(stored[b"std_amount"]) == row["std_amount"]


def test_no_customers_table_is_named(online: redis.Redis, embedded: Settings) -> None:
    result = CliRunner().invoke(app, ["online", "load-profiles", "--redis-url", _url(online)])
    assert result.exit_code == 1
    assert "raw.customers does not exist" in result.output
    assert online.dbsize() == 0
