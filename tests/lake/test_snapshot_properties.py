"""Every commit says which run made it: Airflow's context first, then FRAUDLAKE_RUN_ID."""

from __future__ import annotations

from fraudlake.lake.snapshot_properties import RUN_PROPERTY, commit_properties, run_label


def test_airflow_context_wins_then_the_explicit_id_then_the_user() -> None:
    airflow = {
        "AIRFLOW_CTX_DAG_ID": "fraud_batch_pipeline",
        "AIRFLOW_CTX_DAG_RUN_ID": "manual__2024-03-01T00:00:00+00:00",
        "FRAUDLAKE_RUN_ID": "dvc:ingest",
    }
    assert run_label(airflow) == "airflow:fraud_batch_pipeline/manual__2024-03-01T00:00:00+00:00"
    assert run_label({"FRAUDLAKE_RUN_ID": "dvc:ingest"}) == "dvc:ingest"
    assert run_label({"AIRFLOW_CTX_DAG_ID": "only-the-dag"}).startswith("cli:")
    assert commit_properties(environ={"FRAUDLAKE_RUN_ID": "x"}) == {RUN_PROPERTY: "x"}
    with_extra = commit_properties({"fraudlake.batch-id": "b"}, environ={"FRAUDLAKE_RUN_ID": "x"})
    assert with_extra == {RUN_PROPERTY: "x", "fraudlake.batch-id": "b"}
