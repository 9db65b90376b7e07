from __future__ import annotations

import pytest

from fraudlake.features.definitions import FeatureSet, LabelWindowDef, load_feature_set


@pytest.fixture(scope="session")
def feature_set() -> FeatureSet:
    """The project's definitions plus an undelayed label window, so both label-window
    forms (ending at ``t`` and ending at ``t - delay``) are checked everywhere."""
    project = load_feature_set("feature_defs")
    undelayed = LabelWindowDef(
        group="terminal_risk_undelayed",
        kind="label_window",
        entity="terminal",
        keys=("terminal_id",),
        windows=("1h", "7d"),
        aggregations=("fraud_count", "fraud_rate"),
    )
    return FeatureSet(defs=(*project.defs, undelayed))
