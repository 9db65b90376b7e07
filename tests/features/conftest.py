from __future__ import annotations

import pytest

from fraudlake.features.definitions import FeatureSet, load_feature_set


@pytest.fixture(scope="session")
def feature_set() -> FeatureSet:
    return load_feature_set("feature_defs")
