"""The Iceberg lake: catalog, table definitions, idempotent batch publishing, snapshots."""
