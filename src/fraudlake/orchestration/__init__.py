"""Orchestration helpers: the DVC stage graph and params overrides, free of Airflow imports."""
