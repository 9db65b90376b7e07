"""The batch pipeline, one module per ``dvc.yaml`` stage.

Each stage is a function of (params, settings, layout) that reads its inputs, calls the
library's pure logic and writes its outputs; the CLI, ``dvc.yaml`` and the Airflow DAG
all call these same functions.
"""
