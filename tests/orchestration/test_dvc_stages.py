"""The DVC stage graph behind the Airflow DAG, checked against DVC itself."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import textwrap
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from fraudlake.orchestration.dvc_stages import (
    Stage,
    leaves,
    load_stages,
    push_command,
    repro_command,
    roots,
    upstream,
)

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
