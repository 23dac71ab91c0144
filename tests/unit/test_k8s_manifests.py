"""The manifests in `deploy/k8s` render, validate strictly against Kubernetes 1.32, and agree with the code.

Every test runs on each kustomization: the CPU base and the GPU overlays over it (8B on one GPU, 70B with tensor
parallelism). Rendering uses `kubectl kustomize` (offline; the machine image has kubectl 1.32), the real
kustomize, so a patch whose target the base lacks fails the render. Validation uses the schemas
that PyPI `kubernetes-validate` ships, in strict mode, so that unknown or misspelt fields fail. The structural
checks read each container's effective env (ConfigMaps, then its own `env`) through the service's own config
class, so a port, grace period or NATS URL that the code would read differently fails here.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from selfaware.config import ENV_PREFIX, ServiceConfig, load_config
from services.aggregator.config import AggregatorConfig
from services.evaluator.config import EvaluatorConfig
from services.generator.config import GeneratorConfig
from services.trainer.config import TrainerConfig

K8S_DIR = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
K8S_VERSION = "1.32.0"
CONFIGS: dict[str, type[ServiceConfig]] = {
    "aggregator": AggregatorConfig,
    "generator": GeneratorConfig,
    "trainer": TrainerConfig,
    "evaluator": EvaluatorConfig,
}
GPU_SERVICES = {"trainer", "evaluator"}
GB = 1e9


class Sizing(NamedTuple):
    """What a kustomization is built for: the evaluator's engine profile and the base models' weights."""

    profile: str
    #: bf16 weights of the largest base the GPU pods are sized for, in bytes; 0 for the tiny model on CPU.
    weights: float


KUSTOMIZATIONS = {
    "base": Sizing("cpu", 0),
    "overlays/gpu": Sizing("gpu-8b", 16 * GB),  # Llama-3.1-8B
    "overlays/gpu-70b": Sizing("gpu-70b", 141 * GB),  # Llama-3.1-70B
}

Doc = dict[str, Any]


@pytest.fixture(scope="module", params=list(KUSTOMIZATIONS))
def kustomization(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def docs(kustomization: str) -> list[Doc]:
    """Every document `kubectl kustomize deploy/k8s/<kustomization>` renders."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: it renders deploy/k8s (`kubectl kustomize`); "
                    "install kubectl >= 1.32")
    where = K8S_DIR / kustomization
    result = subprocess.run([kubectl, "kustomize", str(where)], capture_output=True, text=True, timeout=60,
                            check=False)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {where} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(workload: Doc) -> Doc:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def config_of(name: str, workload: Doc, docs: list[Doc]) -> ServiceConfig:
    """The service's config as its container would load it: ConfigMaps from envFrom, then `env` on top."""
    maps = of_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in container(workload).get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    env.update({e["name"]: e["value"] for e in container(workload).get("env", []) if "value" in e})
    known = {ENV_PREFIX + f.name.upper() for f in fields(CONFIGS[name])}
    assert {k for k in env if k.startswith(ENV_PREFIX)} <= known, f"{name}: unknown {ENV_PREFIX}* variables"
    return load_config(CONFIGS[name], argv=[], environ=env)


def test_every_document_validates_strictly(docs: list[Doc]) -> None:
    failures = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            failures.append(f"{where}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_workloads_are_four_deployments_and_nats(docs: list[Doc]) -> None:
    assert set(of_kind(docs, "Deployment")) == set(CONFIGS)
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] != "Namespace"} == {"selfaware"}
    (nats,) = of_kind(docs, "StatefulSet").values()
    assert nats["spec"]["replicas"] == 1
    assert container(nats)["image"] == "nats:2.10-alpine"
    assert " ".join(container(nats)["args"]).startswith("-js -sd /data")
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container(nats)["volumeMounts"]


def test_services_listen_on_all_interfaces_and_probe_their_env_port(docs: list[Doc]) -> None:
    services = of_kind(docs, "Service")
    for name, deployment in of_kind(docs, "Deployment").items():
        config = config_of(name, deployment, docs)
        assert config.grpc_host == "0.0.0.0", name
        kinds = ("startupProbe", "readinessProbe", "livenessProbe")
        probe_ports = {kind: container(deployment)[kind]["grpc"]["port"] for kind in kinds}
        assert probe_ports == dict.fromkeys(kinds, config.grpc_port), name
        assert container(deployment)["ports"] == [{"name": "grpc", "containerPort": config.grpc_port}], name
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= pod_labels.items(), name
        assert services[name]["spec"]["ports"][0]["targetPort"] == "grpc", name


def test_termination_grace_outlasts_the_drain(docs: list[Doc]) -> None:
    for name, deployment in of_kind(docs, "Deployment").items():
        grace = config_of(name, deployment, docs).shutdown_grace_s
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace, name


def test_every_replica_configures_delivery_and_consumers_identically(docs: list[Doc]) -> None:
    """Replicas of one durable consumer must agree on its config, or each start overwrites the last one's."""
    seen = {(c.ack_wait_s, c.max_deliver, tuple(sorted(c.limits().items())))
            for c in (config_of(name, d, docs) for name, d in of_kind(docs, "Deployment").items())}
    assert len(seen) == 1, seen
    ((_, _, limits),) = seen
    assert {name for name, _ in limits} == {"trainer-training-requested", "evaluator-evaluation-requested"}
    assert all(limit.concurrency == 1 and (limit.max_ack_pending or 0) >= 64 for _, limit in limits)


def test_nats_url_names_the_nats_service_and_client_port(docs: list[Doc]) -> None:
    nats = of_kind(docs, "StatefulSet")["nats"]
    service = of_kind(docs, "Service")[nats["spec"]["serviceName"]]
    for name, deployment in of_kind(docs, "Deployment").items():
        url = urlsplit(config_of(name, deployment, docs).nats_url)
        host, *domain = (url.hostname or "").split(".")
        assert url.scheme == "nats" and host == service["metadata"]["name"], url.geturl()
        assert domain[:1] in ([], [service["metadata"]["namespace"]]), url.geturl()
        ports = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
        assert url.port in ports, f"{url.geturl()}: the nats Service exposes ports {sorted(ports)}"
        named = {p["name"]: p["containerPort"] for p in container(nats)["ports"]}
        assert named[ports[url.port]] == 4222, "the URL must reach the NATS client port"
    assert service["spec"]["selector"].items() <= nats["spec"]["template"]["metadata"]["labels"].items()


def quantity(value: str | int) -> float:
    """A Kubernetes quantity ("64Gi", "500M", "250m", "4") as a number."""
    text = str(value)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40), ("k", 1e3), ("M", 1e6),
                           ("G", 1e9), ("T", 1e12), ("m", 1e-3)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def test_trainer_and_evaluator_run_on_gpu_nodes_in_the_gpu_overlays_only(kustomization: str,
                                                                          docs: list[Doc]) -> None:
    on_gpus = KUSTOMIZATIONS[kustomization].weights > 0
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        resources = container(deployment)["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys() & resources["limits"].keys(), name
        for kind in ("cpu", "memory"):
            assert quantity(resources["requests"][kind]) <= quantity(resources["limits"][kind]), (name, kind)
        if on_gpus and name in GPU_SERVICES:
            assert int(resources["limits"]["nvidia.com/gpu"]) >= 1, name
            assert pod["nodeSelector"] == {"selfaware.dev/pool": "gpu"}, name
            gpu_taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            assert gpu_taint in pod["tolerations"], name
            assert deployment["spec"]["strategy"] == {"type": "Recreate"}, name  # no second set of GPUs
        else:
            assert "nvidia.com/gpu" not in resources["limits"], name
            assert "nodeSelector" not in pod and "tolerations" not in pod, name


def test_the_evaluator_runs_the_overlays_engine_profile_on_as_many_gpus_as_it_shards_over(
        kustomization: str, docs: list[Doc]) -> None:
    evaluator = of_kind(docs, "Deployment")["evaluator"]
    config = config_of("evaluator", evaluator, docs)
    assert isinstance(config, EvaluatorConfig)
    vllm = config.profile().vllm
    assert vllm.profile == KUSTOMIZATIONS[kustomization].profile
    gpus = int(container(evaluator)["resources"]["limits"].get("nvidia.com/gpu", 0))
    assert gpus == (vllm.tensor_parallel_size if vllm.device == "cuda" else 0)
    vllm.require_devices(gpus)  # what the engine checks at start, with the GPUs the pod gets


def test_gpu_pods_fit_their_model_and_keep_it_on_a_volume_claim(kustomization: str, docs: list[Doc]) -> None:
    weights = KUSTOMIZATIONS[kustomization].weights
    claims = of_kind(docs, "PersistentVolumeClaim")
    for name, deployment in of_kind(docs, "Deployment").items():
        if name not in GPU_SERVICES:
            continue
        resources = container(deployment)["resources"]
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        data = volumes["data"]
        if not weights:
            assert "emptyDir" in data, name
            continue
        assert data.keys() == {"name", "persistentVolumeClaim"}, f"{name}: the data dir must be only a PVC"
        claim = claims[data["persistentVolumeClaim"]["claimName"]]
        assert quantity(claim["spec"]["resources"]["requests"]["storage"]) >= 2 * weights, name  # + original/
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], name
        # The weights pass through host memory (loading, or the page cache), beside the memory-backed /dev/shm.
        shm = quantity(volumes["dshm"]["emptyDir"]["sizeLimit"])
        assert quantity(resources["limits"]["memory"]) >= weights + shm, name
        gpus = int(resources["limits"]["nvidia.com/gpu"])
        assert gpus * 80 * GB >= 1.2 * weights, f"{name}: {gpus} x 80 GB GPUs cannot hold the bf16 weights"


def test_gated_models_get_the_hub_token_from_an_optional_secret(kustomization: str, docs: list[Doc]) -> None:
    on_gpus = KUSTOMIZATIONS[kustomization].weights > 0
    for name, deployment in of_kind(docs, "Deployment").items():
        env = {e["name"]: e for e in container(deployment).get("env", [])}
        if on_gpus and name in GPU_SERVICES:
            assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                "name": "selfaware-hf-token", "key": "HF_TOKEN", "optional": True}}}, name
        else:
            assert "HF_TOKEN" not in env, name
    for config_map in of_kind(docs, "ConfigMap").values():
        assert "HF_TOKEN" not in config_map["data"]  # a token is never in plain config


def test_every_container_is_hardened_and_writes_only_to_volumes(docs: list[Doc]) -> None:
    for workload in [*of_kind(docs, "Deployment").values(), *of_kind(docs, "StatefulSet").values()]:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in pod["containers"]:
            assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}, name
        if name in CONFIGS:
            mounts = {m["mountPath"] for m in container(workload)["volumeMounts"]}
            assert {"/tmp", str(config_of(name, workload, docs).data_dir)} <= mounts, name
