"""The DVC stage graph and params overrides behind the Airflow DAG, checked against DVC itself."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sysconfig
import textwrap
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from fraudlake.orchestration.dvc_stages import (
    Stage,
    apply_param_overrides,
    leaves,
    load_stages,
    push_command,
    repro_command,
    roots,
    upstream,
)
from fraudlake.params import ParamsError, load_params

# DVC 3.67 itself triggers this warning (dvc/repo/trie.py) when it builds the graph.
pytestmark = pytest.mark.filterwarnings("ignore:_NoneStep.value:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
DVC_ENV = {
    **os.environ,
    "PATH": os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")]),
}


def dvc_upstream(project: Path) -> dict[str, set[str]]:
    """The stage graph DVC itself builds (what `dvc dag` draws) for ``project/dvc.yaml``."""
    dvc_yaml = (project / "dvc.yaml").resolve()
    with Repo(str(project)) as repo:
        graph = repo.index.graph
        stages = [s for s in graph.nodes if Path(s.path).resolve() == dvc_yaml]
        result: dict[str, set[str]] = {stage.name: set() for stage in stages}
        for stage, dependency in graph.edges:  # DVC edges point from a stage to its upstream
            if stage in stages and dependency in stages:
                result[stage.name].add(dependency.name)
    return result


def dvc_project(tmp_path: Path, dvc_yaml: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    Repo.init(str(project), no_scm=True).close()
    (project / "dvc.yaml").write_text(textwrap.dedent(dvc_yaml))
    return project


# --------------------------------------------------------------------------- load_stages


def test_load_stages_reads_the_real_dvc_yaml_in_file_order() -> None:
    stages = load_stages(ROOT / "dvc.yaml")
    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert [stage.name for stage in stages] == list(raw)
    by_name = {stage.name: stage for stage in stages}
    for name, spec in raw.items():
        assert by_name[name].cmd == spec["cmd"]
        assert len(by_name[name].deps) == len(spec.get("deps", []))
        n_outs = sum(len(spec.get(kind, [])) for kind in ("outs", "metrics", "plots"))
        assert len(by_name[name].outs) == n_outs
    # one-key mappings ({path: {cache: false}}) become their path; metrics count as outputs
    assert by_name["train"].outs == ("reports/train/candidates.json", "reports/train/metrics.json")


def test_load_stages_entries_and_list_commands(tmp_path: Path) -> None:
    path = tmp_path / "dvc.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            stages:
              prep:
                cmd: [python prep.py, python check.py]
                wdir: sub
                deps: [a.csv, {b.csv: {hash: md5}}]
                outs: [{out: {cache: false}}]
                metrics: [m.json]
                plots: [{p.csv: {x: step}}]
              bare:
                cmd: echo hi
            """
        )
    )
    assert load_stages(path) == [
        Stage(
            "prep",
            "python prep.py && python check.py",
            ("a.csv", "b.csv"),
            ("out", "m.json", "p.csv"),
            wdir="sub",
        ),
        Stage("bare", "echo hi", (), ()),
    ]


MALFORMED = {
    "no stages key": ("vars: [a]\n", "no top-level `stages:`"),
    "empty file": ("", "no top-level `stages:`"),
    "stages not a mapping": ("stages: [a, b]\n", "non-empty mapping"),
    "no stages": ("stages: {}\n", "non-empty mapping"),
    "no cmd": ("stages:\n  a:\n    deps: [x]\n", "stage 'a' has no `cmd`"),
    "empty cmd": ("stages:\n  a:\n    cmd: ''\n", "stage 'a' has no `cmd`"),
    "foreach": (
        "stages:\n  a:\n    foreach: [1, 2]\n    do:\n      cmd: echo ${item}\n",
        "stage 'a' uses `foreach`, which is not supported",
    ),
    "matrix": (
        "stages:\n  a:\n    matrix:\n      n: [1, 2]\n    cmd: echo ${item.n}\n",
        "stage 'a' uses `matrix`, which is not supported",
    ),
    "stage not a mapping": ("stages:\n  a: echo hi\n", "stage 'a' must be a mapping"),
    "deps not a list": ("stages:\n  a:\n    cmd: x\n    deps: data\n", "`deps` must be a list"),
    "two-key entry": (
        "stages:\n  a:\n    cmd: x\n    outs:\n      - {o1: null, o2: null}\n",
        "must map exactly one path",
    ),
    "interpolated path": (
        "stages:\n  a:\n    cmd: x\n    deps: ['${data}/raw']\n",
        "interpolation, which is not supported",
    ),
    "bad stage name": ("stages:\n  a.b:\n    cmd: x\n", "DVC allows only letters"),
    "duplicate stage": ("stages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n", "duplicate key 'a'"),
    "not yaml": ("stages:\n  a: [\n", "not valid YAML"),
}


@pytest.mark.parametrize(("text", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_load_stages_rejects_malformed_files_naming_file_and_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "dvc.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"dvc\.yaml") as excinfo:
        load_stages(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_load_stages_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_stages(tmp_path / "dvc.yaml")


# --------------------------------------------------------------------------- upstream


def test_upstream_equals_dvc_dag_for_the_real_dvc_yaml() -> None:
    graph = upstream(load_stages(ROOT / "dvc.yaml"))
    assert graph == dvc_upstream(ROOT)
    assert roots(graph) == {"simulate"}
    assert leaves(graph) == {"drift"}


GRAPH_CASES = {
    "dep equals out, dep inside out, sibling prefix is not inside": (
        """\
        stages:
          raw:
            cmd: mkdir -p data/raw
            outs: [data/raw]
          raw2:
            cmd: mkdir -p data/raw2
            outs: [data/raw2]
          whole:
            cmd: ls data/raw
            deps: [data/raw]
            outs: [w.txt]
          part:
            cmd: cat data/raw/part.csv
            deps: [./data/raw/part.csv]
            outs: [p.txt]
          other:
            cmd: ls data/raw2x
            deps: [data/raw2x, data/ra]
            outs: [o.txt]
        """,
        {"raw": set(), "raw2": set(), "whole": {"raw"}, "part": {"raw"}, "other": set()},
    ),
    "out inside dep, metrics and plots are outputs, trailing slashes": (
        """\
        stages:
          a:
            cmd: x
            outs: [reports/a/out.json]
          b:
            cmd: x
            metrics: [{reports/b.json: {cache: false}}]
          c:
            cmd: x
            plots: [reports/plots/c.csv]
          d:
            cmd: x
            deps: [reports/]
            outs: [d.txt]
          e:
            cmd: x
            deps: [reports/plots]
        """,
        {"a": set(), "b": set(), "c": set(), "d": {"a", "b", "c"}, "e": {"c"}},
    ),
    "wdir and parent paths": (
        """\
        stages:
          make:
            cmd: x
            wdir: build
            outs: [../artifacts/model.bin]
          use:
            cmd: x
            deps: [artifacts]
          use_in_sub:
            cmd: x
            wdir: sub
            deps: [../artifacts/model.bin, artifacts]
        """,
        {"make": set(), "use": {"make"}, "use_in_sub": {"make"}},
    ),
}


@pytest.mark.parametrize(("dvc_yaml", "expected"), GRAPH_CASES.values(), ids=GRAPH_CASES.keys())
def test_upstream_edge_cases_equal_dvc(
    tmp_path: Path, dvc_yaml: str, expected: dict[str, set[str]]
) -> None:
    project = dvc_project(tmp_path, dvc_yaml)
    graph = upstream(load_stages(project / "dvc.yaml"))
    assert graph == expected
    assert graph == dvc_upstream(project)


INVALID_GRAPHS = {
    "cycle": (
        "stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n"
        "  b:\n    cmd: x\n    deps: [a.txt]\n    outs: [b.txt]\n",
        "dependency cycle",
    ),
    "depends on own output": (
        "stages:\n  a:\n    cmd: x\n    deps: [data]\n    outs: [data/a.txt]\n",
        "dependency cycle: a -> a",
    ),
    "same output twice": (
        "stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: x\n    outs: [./o]\n",
        "is the same path as output",
    ),
    "nested outputs": (
        "stages:\n  a:\n    cmd: x\n    outs: [data]\n  b:\n    cmd: x\n    outs: [data/b]\n",
        "overlaps output",
    ),
}


@pytest.mark.parametrize(
    ("dvc_yaml", "message"), INVALID_GRAPHS.values(), ids=INVALID_GRAPHS.keys()
)
def test_upstream_rejects_what_dvc_rejects(tmp_path: Path, dvc_yaml: str, message: str) -> None:
    project = dvc_project(tmp_path, dvc_yaml)
    with pytest.raises(ValueError, match=message):
        upstream(load_stages(project / "dvc.yaml"))
    with pytest.raises(Exception):  # noqa: B017 - DVC raises its own error types
        dvc_upstream(project)


def test_upstream_rejects_duplicate_stage_names() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        upstream([Stage("a", "x", (), ()), Stage("a", "y", (), ())])


def test_roots_and_leaves() -> None:
    graph = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "lone": set()}
    assert roots(graph) == {"a", "lone"}
    assert leaves(graph) == {"d", "lone"}


# --------------------------------------------------------------------------- commands


def test_repro_command_runs_only_the_named_stage(tmp_path: Path) -> None:
    project = dvc_project(
        tmp_path,
        """\
        stages:
          first:
            cmd: echo one > first.txt
            outs: [first.txt]
          second:
            cmd: cat first.txt > second.txt
            deps: [first.txt]
            outs: [second.txt]
        """,
    )
    assert repro_command("first") == "dvc repro --single-item first"
    run = subprocess.run(
        ["bash", "-c", repro_command("first")], cwd=project, env=DVC_ENV, capture_output=True
    )
    assert run.returncode == 0, run.stderr
    assert (project / "first.txt").read_text() == "one\n"
    assert not (project / "second.txt").exists()


def test_push_command_without_remote_explains_and_succeeds(tmp_path: Path) -> None:
    project = dvc_project(tmp_path, "stages:\n  a:\n    cmd: echo\n")
    run = subprocess.run(
        ["bash", "-c", push_command()], cwd=project, env=DVC_ENV, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "No DVC default remote is configured, so nothing was pushed" in run.stdout
    assert "dvc remote add --default" in run.stdout


def test_push_command_pushes_to_the_default_remote(tmp_path: Path) -> None:
    project = dvc_project(
        tmp_path, "stages:\n  a:\n    cmd: echo data > a.txt\n    outs: [a.txt]\n"
    )
    storage = tmp_path / "storage"
    for args in (["remote", "add", "--default", "local", str(storage)], ["repro"]):
        subprocess.run(["dvc", *args], cwd=project, env=DVC_ENV, check=True, capture_output=True)
    run = subprocess.run(
        ["bash", "-c", push_command()], cwd=project, env=DVC_ENV, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "Pushing DVC-tracked outputs to the default remote 'local'" in run.stdout
    assert [p for p in storage.rglob("*") if p.is_file()], "nothing reached the remote"


def test_push_command_fails_when_dvc_fails(tmp_path: Path) -> None:
    project = dvc_project(tmp_path, "stages:\n  a:\n    cmd: echo\n")
    (project / ".dvc" / "config").write_text("[core\n")  # a broken DVC config
    run = subprocess.run(
        ["bash", "-c", push_command()], cwd=project, env=DVC_ENV, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "dvc remote default failed" in run.stderr


# --------------------------------------------------------------------------- params


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
