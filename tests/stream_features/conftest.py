from tests.features.conftest import feature_set

__all__ = ["feature_set"]
