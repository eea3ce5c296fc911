"""deploy/k8s/raycluster.yaml against KubeRay's own RayCluster CRD schema (vendored in
tests/deploy/kuberay/, validated with jsonschema and unknown fields rejected, as
`kubectl apply --validate=strict` does), plus what the schema cannot know: both pods read the
key and the database URL from the documented Secret, the head exec's a server command line the
real CLI accepts, and the control Service selects the head pod by KubeRay's labels."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import DEPLOY_DOC, K8S, parse_cirahubctl, parse_ray, shell_steps

CRD = Path(__file__).with_name("kuberay") / "ray.io_rayclusters.yaml"
SECRET = "cirahub"


def _strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its
    properties and does not keep unknown fields: a misspelt field fails instead of vanishing."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(CRD.read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strict(v1["schema"]["openAPIV3Schema"])
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(K8S.read_text()))


def _cluster(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (cluster,) = [d for d in docs if d["kind"] == "RayCluster"]
    return cluster


def _pods(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    spec = cluster["spec"]
    return [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]


def test_raycluster_matches_the_kuberay_crd(validator: jsonschema.Draft7Validator,
                                            docs: list[dict[str, Any]]) -> None:
    cluster = _cluster(docs)
    assert cluster["apiVersion"] == "ray.io/v1"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(cluster)]
    assert errors == []


@pytest.mark.parametrize("mutate", ["unknown_field", "replicas_as_text", "no_containers"])
def test_the_schema_check_catches_mistakes(validator: jsonschema.Draft7Validator,
                                           docs: list[dict[str, Any]], mutate: str) -> None:
    cluster = yaml.safe_load(yaml.safe_dump(_cluster(docs)))
    group = cluster["spec"]["workerGroupSpecs"][0]
    if mutate == "unknown_field":
        group["template"]["spec"]["containers"][0]["envv"] = []
    elif mutate == "replicas_as_text":
        group["replicas"] = "two"
    else:
        del group["template"]["spec"]["containers"]
    assert list(validator.iter_errors(cluster)), mutate


def test_every_pod_reads_key_and_database_from_the_secret(docs: list[dict[str, Any]]) -> None:
    for pod in _pods(_cluster(docs)):
        (container,) = pod["spec"]["containers"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
                if "valueFrom" in e}
        assert refs == {"CIRAHUB_SECRET_KEY": {"name": SECRET, "key": "secret-key"},
                        "CIRAHUB_DB": {"name": SECRET, "key": "db-url"}}
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_head_runs_ray_then_execs_the_server(docs: list[dict[str, Any]]) -> None:
    head = _cluster(docs)["spec"]["headGroupSpec"]["template"]
    assert head["metadata"]["annotations"]["ray.io/overwrite-container-cmd"] == "true"
    (container,) = head["spec"]["containers"]
    assert container["command"] == ["sh", "-c"]
    ray_start, server = shell_steps(container["args"][0])
    assert parse_ray(ray_start).params["head"] is True
    assert server[0] == "exec"
    ctx = parse_cirahubctl(server[1:])
    assert ctx.params["listen"] == "0.0.0.0:7443" and ctx.params["ray_address"] == "auto"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["control"] == 7443 and ports["console"] == 7080


def test_control_service_selects_the_head_pod(docs: list[dict[str, Any]]) -> None:
    cluster = _cluster(docs)
    (service,) = [d for d in docs if d["kind"] == "Service"]
    assert service["spec"]["type"] == "ClusterIP"
    # the labels KubeRay puts on a head pod (utils.RayClusterLabelKey, RayNodeTypeLabelKey)
    assert service["spec"]["selector"] == {"ray.io/cluster": cluster["metadata"]["name"],
                                           "ray.io/node-type": "head"}
    (container,) = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    named = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= named


def test_documented_secret_command_matches_the_manifest() -> None:
    for text in (DEPLOY_DOC.read_text(), K8S.read_text()):
        keys = re.findall(r"--from-literal=([\w-]+)=", text)
        assert sorted(keys) == ["db-url", "secret-key"], text[:200]
        assert f"kubectl create secret generic {SECRET} " in text.replace("\\\n", " ")


def test_documented_key_generator_makes_a_key_the_store_accepts(tmp_path: Path) -> None:
    (snippet,) = set(re.findall(r"python3 -c '([^']+)'", K8S.read_text()))
    key = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                         check=True).stdout.strip()
    from cirahub.store.secrets import SecretBox

    box = SecretBox(key.encode("ascii"))
    assert box.decrypt(box.encrypt("p4ss")) == "p4ss"
