"""The deployment files validate, though no container engine runs here: hadolint for the
Dockerfile, the Compose specification's schema, the Kubernetes API schemas (strict), and every
REELFORGE_* variable they set is one reelforge reads (a typo would be silently ignored)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelforge.settings import Settings
from tests.support.debian import debian_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BIN = Path(sys.executable).parent
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_dockerfile_passes_hadolint() -> None:
    done = _run(str(BIN / "hadolint"), str(DEPLOY / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    compose = DEPLOY / "compose.yaml"
    done = _run(
        str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(compose)
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_manifests_validate_strictly() -> None:
    assert {m.name for m in MANIFESTS} >= {"api.yaml", "worker.yaml", "migrate-job.yaml"}
    done = _run(str(BIN / "kubernetes-validate"), "--strict", *map(str, MANIFESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def _reelforge_variables(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {k for k in node if isinstance(k, str) and k.startswith("REELFORGE_")}
        return found.union(*(_reelforge_variables(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_reelforge_variables(v) for v in node))
    return set()


def _is_setting(variable: str) -> bool:
    model: Any = Settings
    for part in variable.removeprefix("REELFORGE_").lower().split("__"):
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return False
        model = field.annotation
    return True


@pytest.mark.parametrize(
    "path", [DEPLOY / "compose.yaml", *MANIFESTS], ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_variable_set_is_a_setting(path: Path) -> None:
    variables = set().union(
        *(_reelforge_variables(d) for d in yaml.safe_load_all(path.read_text()))
    )
    assert [v for v in sorted(variables) if not _is_setting(v)] == []


def test_the_variable_check_catches_a_typo() -> None:
    assert _is_setting("REELFORGE_S3__ENDPOINT_URL")
    assert not _is_setting("REELFORGE_S3__ENDPIONT_URL")
    assert not _is_setting("REELFORGE_DATABSE_URL")


def test_dockerfile_and_manifests_run_the_commands_the_cli_has() -> None:
    text = (DEPLOY / "Dockerfile").read_text() + "".join(m.read_text() for m in MANIFESTS)
    for command in set(re.findall(r'"reelforge", "([a-z-]+)"', text)):
        done = _run(str(BIN / "reelforge"), command, "--help")
        assert done.returncode == 0, f"reelforge {command}: {done.stderr}"


PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "reelforge-dashboard.json"


@pytest.fixture(scope="module")
def promtool() -> str:
    return debian_binary("promtool")


def test_alert_rules_load_and_fire_on_their_test_series(promtool: str) -> None:
    """`promtool test rules` feeds each alert series that must (and must not) trip it."""
    checked = _run(promtool, "check", "rules", str(PROMETHEUS / "reelforge-rules.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _run(promtool, "test", "rules", str(PROMETHEUS / "reelforge-rules.test.yaml"))
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_dashboard_panels_are_laid_out_and_their_queries_parse(
    promtool: str, tmp_path: Path
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels) and dashboard["uid"]
    cells = [
        (row, col)
        for p in panels
        for row in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])
        for col in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
    ]
    assert len(cells) == len(set(cells)) and all(col < 24 for _, col in cells)  # no overlap
    # promtool parses PromQL only inside rules: each panel query becomes a recording rule.
    recorded = [
        {"record": f"dashboard:panel_{i}", "expr": q} for i, q in enumerate(dashboard_queries())
    ]
    rules = {"groups": [{"name": "dashboard", "rules": recorded}]}
    as_rules = tmp_path / "dashboard-rules.yaml"
    as_rules.write_text(yaml.safe_dump(rules))
    done = _run(promtool, "check", "rules", str(as_rules))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_query_is_caught(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [
        {"record": "x:y", "expr": "sum by (le (rate(reelforge_x[5m]))"}
    ]}]}))  # fmt: skip
    assert _run(promtool, "check", "rules", str(broken)).returncode != 0


def metric_names_used() -> set[str]:
    """Every reelforge metric the rules and the dashboard query (recorded ones excluded)."""
    text = (PROMETHEUS / "reelforge-rules.yaml").read_text() + "\n".join(dashboard_queries())
    return set(re.findall(r"\breelforge_[a-z_]+", text))
