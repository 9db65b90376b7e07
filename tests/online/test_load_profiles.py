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


def test_profiles_from_the_lake_land_in_redis(
    online: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path))
    for name in ("FRAUDLAKE_CATALOG_URI", "FRAUDLAKE_WAREHOUSE", "FRAUDLAKE_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    customers = make_customers(7)
    settings = Settings(home=tmp_path, catalog_uri=None, warehouse=None, s3_endpoint=None)
    ensure_table(open_catalog(settings), RAW_TABLES["customers"]).append(customers)

    result = CliRunner().invoke(app, ["online", "load-profiles", "--redis-url", _url(online)])
    assert result.exit_code == 0, result.output
    for row in customers.to_pylist():
        stored = online.hgetall(f"fl:customer:{row['customer_id']}")
        assert float(stored[b"home_x"]) == row["home_x"]
        assert float(stored[b"std_amount"]) == row["std_amount"]


def test_no_customers_table_is_named(
    online: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path))
    for name in ("FRAUDLAKE_CATALOG_URI", "FRAUDLAKE_WAREHOUSE", "FRAUDLAKE_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["online", "load-profiles", "--redis-url", _url(online)])
    assert result.exit_code == 1
    assert "raw.customers does not exist" in result.output
    assert online.dbsize() == 0
