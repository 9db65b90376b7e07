"""From the feature definitions to the chain of entity stages a stream runs through."""

from __future__ import annotations

from fraudlake.features.definitions import FeatureSet
from fraudlake.stream_features.entity_stage import DEFAULT_GRACE_US, EntityStage


def build_stages(features: FeatureSet, grace_us: int = DEFAULT_GRACE_US) -> list[EntityStage]:
    """One stage per entity with window or label-window features, in the order the
    entities first appear in ``features`` (each transaction passes every stage)."""
    order: list[str] = []
    for d in [*features.windows, *features.label_windows]:
        if d.entity not in order:
            order.append(d.entity)
    stages = []
    for entity in order:
        windows = [d for d in features.windows if d.entity == entity]
        labels = [d for d in features.label_windows if d.entity == entity]
        keys = (windows or labels)[0].keys
        stages.append(EntityStage(entity, keys, windows, labels, grace_us))
    return stages


def history_names(features: FeatureSet) -> list[str]:
    """The features the stream computes (all but the request-time ones), in model order."""
    request = set(features.request)
    return [n for n in features.names if n not in request]
