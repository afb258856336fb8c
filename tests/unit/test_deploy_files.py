"""The deployment files validate, though no container engine runs here: hadolint for the
Dockerfile, the Compose specification's schema, the Kubernetes API schemas (strict), and every
REELFORGE_* variable they set is one reelforge reads (a typo would be silently ignored)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelforge.settings import Settings

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
