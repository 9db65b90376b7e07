"""Trigger-form overrides written into params.yaml: validated first, comments kept."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml

from fraudlake.orchestration.param_overrides import apply_param_overrides
from fraudlake.params import ParamsError, load_params

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    shutil.copyfile(ROOT / "params.yaml", path)
    return path


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_apply_overrides_changes_only_the_given_keys_and_keeps_comments(params_file: Path) -> None:
    before = params_file.read_text()
    old = yaml.safe_load(before)
    changes = apply_param_overrides(
        params_file,
        {"simulate.days": 49, "simulate.drift.enabled": True, "simulate.grid_size": 120},
    )
    assert changes == {
        "simulate.days": (old["simulate"]["days"], 49),
        "simulate.drift.enabled": (old["simulate"]["drift"]["enabled"], True),
        "simulate.grid_size": (old["simulate"]["grid_size"], 120.0),  # normalised to float
    }
    after = params_file.read_text()
    assert len(changed_lines(before, after)) == 6  # three lines out, three in
    comments = [line.strip() for line in before.splitlines() if line.strip().startswith("#")]
    assert all(comment in after for comment in comments)
    assert "grid_size: 120.0          # customers and terminals" in after  # inline comment too
    params = load_params(params_file)
    assert (params.simulate.days, params.simulate.drift.enabled) == (49, True)
    new = yaml.safe_load(after)
    new["simulate"].update(days=old["simulate"]["days"], grid_size=old["simulate"]["grid_size"])
    new["simulate"]["drift"]["enabled"] = old["simulate"]["drift"]["enabled"]
    assert new == old  # nothing else changed


def test_apply_overrides_sections_dates_and_yaml_pitfalls(params_file: Path) -> None:
    before = params_file.read_text()
    changes = apply_param_overrides(
        params_file,
        {
            "train.train_start": "2024-01-01",
            "train.test_start": "2024-02-05",
            "registry.model_name": "yes",  # PyYAML would read a bare `yes` as True
            "registry.promotion_margins.precision": 1e-5,  # new key; `1e-05` is a str to PyYAML
            "simulate.scenarios.high_amount": {"enabled": False},
        },
    )
    assert changes["train.train_start"] == (None, "2024-01-01")
    assert changes["registry.promotion_margins.precision"] == (None, 1e-5)
    assert changes["simulate.scenarios.high_amount"][1] == {"enabled": False, "threshold": 220.0}
    params = load_params(params_file)
    assert str(params.train.train_start) == "2024-01-01"
    assert params.registry.model_name == "yes"
    assert params.registry.promotion_margins["precision"] == 1e-5
    assert params.simulate.scenarios.high_amount.enabled is False
    after = params_file.read_text()
    # a merged section keeps its flow style; the new key stays inside its section
    assert "high_amount: {enabled: false, threshold: 220.0}" in after
    assert "    precision: 1.0e-05\n\ndrift:" in after
    assert len(changed_lines(before, after)) == 9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"simulate.dayz": 30}, "unknown key 'simulate.dayz': did you mean 'simulate.days'?"),
        ({"simulat.days": 30}, "unknown key 'simulat': did you mean 'simulate'?"),
        ({"simulate.days": 0}, "simulate.days: Input should be greater than or equal to 1"),
        ({"simulate.profile": "fancy"}, "simulate.profile: Input should be 'default' or"),
        ({"decision.review_threshold": 0.95}, "decline_threshold must be >= decision.review"),
        ({"simulate.days.x": 1}, "'simulate.days' is a value (56), not a section"),
        ({"simulate": 1, "simulate.days": 2}, "overlap"),
        ({"simulate..days": 1}, "not a dotted params.yaml key"),
        ({"simulate days": 1}, "not a dotted params.yaml key"),
    ],
)
def test_apply_overrides_rejects_invalid_keys_and_leaves_the_file_untouched(
    params_file: Path, overrides: dict[str, object], message: str
) -> None:
    before = params_file.read_bytes()
    stat = params_file.stat()
    with pytest.raises(ParamsError) as excinfo:
        apply_param_overrides(params_file, overrides)
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert params_file.read_bytes() == before
    assert params_file.stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in params_file.parent.iterdir()) == ["params.yaml"]  # no temp


def test_apply_overrides_without_changes_does_not_rewrite(params_file: Path) -> None:
    stat = params_file.stat()
    days = yaml.safe_load(params_file.read_text())["simulate"]["days"]
    assert apply_param_overrides(params_file, {}) == {}
    assert apply_param_overrides(params_file, {"simulate.days": days}) == {}
    assert params_file.stat().st_mtime_ns == stat.st_mtime_ns


def test_apply_overrides_keeps_permissions_and_leaves_no_temp_files(params_file: Path) -> None:
    params_file.chmod(0o640)
    apply_param_overrides(params_file, {"drift.max_rows": 1000})
    assert params_file.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in params_file.parent.iterdir()) == ["params.yaml"]
    assert load_params(params_file).drift.max_rows == 1000
