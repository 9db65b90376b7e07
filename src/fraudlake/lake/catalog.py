"""Open the Iceberg SQL catalog described by :class:`~fraudlake.settings.Settings`.

SQLite in the embedded mode, PostgreSQL on the stack; the warehouse is a local folder or
any S3 server (only the S3 API is spoken: endpoint, keys, region, path-style).
"""

from __future__ import annotations

from pyiceberg.catalog.sql import SqlCatalog

from fraudlake.settings import Settings


def catalog_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg properties for the catalog and its FileIO."""
    props = {"uri": settings.resolved_catalog_uri, "warehouse": settings.resolved_warehouse}
    if settings.s3_endpoint:
        props["s3.endpoint"] = settings.s3_endpoint
    if settings.s3_access_key:
        props["s3.access-key-id"] = settings.s3_access_key
    if settings.s3_secret_key:
        props["s3.secret-access-key"] = settings.s3_secret_key.get_secret_value()
    props["s3.region"] = settings.s3_region
    props["s3.force-virtual-addressing"] = str(not settings.s3_path_style).lower()
    return props


def open_catalog(settings: Settings) -> SqlCatalog:
    """The project's catalog; creates its metadata tables on first use."""
    return SqlCatalog(settings.catalog_name, **catalog_properties(settings))
