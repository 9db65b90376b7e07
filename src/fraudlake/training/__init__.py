"""Training, evaluation and the model registry.

Modules, one job each (import them directly; this package imports nothing heavy):

- :mod:`~fraudlake.training.split` — time-ordered train / gap / test split;
- :mod:`~fraudlake.training.metrics` — ROC AUC, average precision, Card Precision@k,
  precision / recall / false-positive rate at the decision thresholds;
- :mod:`~fraudlake.training.models` — fit LightGBM / XGBoost, native boosters, scores;
- :mod:`~fraudlake.training.plots` — PR, ROC, score-distribution and importance charts;
- :mod:`~fraudlake.training.tracking` — MLflow plumbing (URIs, experiments, model logging);
- :mod:`~fraudlake.training.train` — train every candidate and log one MLflow run each;
- :mod:`~fraudlake.training.alias_log` — append-only history of registry alias changes;
- :mod:`~fraudlake.training.registry` — register, gate, promote and roll back.
"""
