"""The manifests in `deploy/k8s` render, validate strictly against Kubernetes 1.32, and agree with the code.

Every test runs on each kustomization: the base, and the overlays dev-cpu (CPU), gpu (8B on one GPU), gpu-70b
(tensor parallelism) and production (a 3-node NATS cluster over gpu). Rendering uses `kubectl kustomize`
(offline; the machine image has kubectl 1.32), the real kustomize, so a patch whose target the base lacks fails
the render. Validation uses the schemas that PyPI `kubernetes-validate` ships, in strict mode, so that unknown or
misspelt fields fail. The structural checks read each container's effective env (ConfigMaps, then its own `env`)
through the service's own config class, so a port, grace period or NATS URL that the code would read differently
fails here.

KEDA's ScaledObjects are checked STRUCTURALLY, not against KEDA's CRD schema: no PyPI package ships that schema
(`cloudcoil-models-keda` ships pydantic models generated from it, which ignore unknown fields, so a misspelt field
would pass). `test_keda_scaled_objects_have_the_shape_keda_accepts` checks the fields KEDA's ScaledObject and its
`nats-jetstream` trigger accept (keda.sh docs, pkg/scalers/nats_jetstream_scaler.go), and validates the embedded
HPA `behavior` strictly with kubernetes-validate as part of an autoscaling/v2 HorizontalPodAutoscaler.
cert-manager's Issuers and Certificates likewise (`test_cert_manager_issues_the_grpc_certificate_every_service_
mounts`), against the fields of cert-manager.io/v1 (cert-manager.io/docs/reference/api-docs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import kubernetes_validate
import nats
import pytest
import yaml

from selfaware.bus import EventBus
from selfaware.config import ENV_PREFIX, ServiceConfig, load_config
from selfaware.service import Runtime
from services.aggregator.config import AggregatorConfig
from services.evaluator.config import EvaluatorConfig
from services.evaluator.handlers import EvaluatorHandlers
from services.generator.config import GeneratorConfig
from services.trainer.config import TrainerConfig
from services.trainer.handlers import TrainerHandlers

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
    """What a kustomization is built for: the evaluator's engine profile, the base models' weights, the NATS
    servers, and the most trainer and evaluator pods KEDA starts (0: no autoscaling, one replica each)."""

    profile: str
    #: bf16 weights of the largest base the GPU pods are sized for, in bytes; 0 for the tiny model on CPU.
    weights: float
    nats_servers: int = 1
    max_pods: int = 0


KUSTOMIZATIONS = {
    "base": Sizing("cpu", 0),
    "overlays/dev-cpu": Sizing("cpu", 0),
    "overlays/gpu": Sizing("gpu-8b", 16 * GB, max_pods=1),  # Llama-3.1-8B; one pod: one ReadWriteOnce cache
    "overlays/gpu-70b": Sizing("gpu-70b", 141 * GB, max_pods=1),  # Llama-3.1-70B
    "overlays/production": Sizing("gpu-8b", 16 * GB, nats_servers=3, max_pods=4),
}
KEDA_KINDS = {("keda.sh/v1alpha1", "ScaledObject")}
#: cert-manager's kinds (gRPC certificates in the base, TLS to NATS in production): no schema ships with
#: kubernetes-validate either; they are checked structurally below.
CERT_MANAGER_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}

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
        if (doc["apiVersion"], doc["kind"]) in KEDA_KINDS | CERT_MANAGER_KINDS:
            continue  # no schema ships for KEDA or cert-manager: checked structurally below
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            failures.append(f"{where}: {exc.message}")
    assert not failures, "\n".join(failures)


CLUSTER_SCOPED = {"Namespace", "PriorityClass"}


def test_workloads_are_four_deployments_and_nats(kustomization: str, docs: list[Doc]) -> None:
    sizing = KUSTOMIZATIONS[kustomization]
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == set(CONFIGS)
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] not in CLUSTER_SCOPED} == {"selfaware"}
    (nats_set,) = of_kind(docs, "StatefulSet").values()
    assert nats_set["spec"]["replicas"] == sizing.nats_servers
    assert container(nats_set)["image"] == "nats:2.10-alpine"
    (claim,) = nats_set["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container(nats_set)["volumeMounts"]
    if sizing.nats_servers == 1:
        assert " ".join(container(nats_set)["args"]).startswith("-js -sd /data")
    for name, deployment in deployments.items():
        # Streams and buckets get as many copies as there are NATS servers (the nats-provision Job creates them).
        assert config_of(name, deployment, docs).nats_replicas == sizing.nats_servers, name
        autoscaled = sizing.max_pods and name in GPU_SERVICES
        assert deployment["spec"].get("replicas") == (None if autoscaled else 1), name  # KEDA owns it


def nats_config(docs: list[Doc]) -> tuple[str, Path, dict[str, str]]:
    """The NATS server's config file (from its ConfigMap), the path the container reads it at, and every file
    of that ConfigMap (the config includes the users' file beside it)."""
    nats_set = of_kind(docs, "StatefulSet")["nats"]
    args = container(nats_set)["args"]
    path = Path(args[args.index("-c") + 1])
    mount = next(m for m in container(nats_set)["volumeMounts"] if path.is_relative_to(m["mountPath"]))
    volume = next(v for v in nats_set["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    files = of_kind(docs, "ConfigMap")[volume["configMap"]["name"]]["data"]
    return files[str(path.relative_to(mount["mountPath"]))], path, files


def nats_server_accepts(docs: list[Doc], folder: Path) -> subprocess.CompletedProcess[str]:
    """`nats-server -t` (test the config and exit) on the NATS pod's config as mounted, the /etc/nats paths moved
    under `folder`, with throwaway TLS files where the pod mounts its certificate, and the pod's env (dummy
    passwords for the Secret references)."""
    from tests.tls_files import write_tls_files

    text, path, files = nats_config(docs)
    root = folder / "etc-nats"
    write_tls_files(root / "tls")
    for name, content in files.items():
        (root / name).write_text(content.replace("/etc/nats", str(root)))
    nats_set = of_kind(docs, "StatefulSet")["nats"]
    env = {e["name"]: e.get("value", "dummy") for e in container(nats_set)["env"]} | {"POD_NAME": "nats-0"}
    binary = Path(sys.executable).parent / "nats-server"
    return subprocess.run([str(binary), "-c", str(root / path.name), "-t"], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **env}, check=False)


def test_a_nats_cluster_routes_every_server_and_its_config_parses(kustomization: str, docs: list[Doc],
                                                                 tmp_path: Path) -> None:
    servers = KUSTOMIZATIONS[kustomization].nats_servers
    nats_set = of_kind(docs, "StatefulSet")["nats"]
    ports = {p["name"]: p["containerPort"] for p in container(nats_set)["ports"]}
    # The real server parses it: unknown fields and bad values fail.
    checked = nats_server_accepts(docs, tmp_path)
    assert checked.returncode == 0, checked.stderr
    text, _, _ = nats_config(docs)
    if servers == 1:  # one server, configured by flags (JetStream on the PVC, monitoring on its port) and users
        assert container(nats_set)["args"] == ["-js", "-sd", "/data", "-m", str(ports["monitor"]),
                                               "-c", "/etc/nats/nats-auth.conf"]
        assert "cluster" not in ports
        return
    service = nats_set["spec"]["serviceName"]
    routes = re.findall(r"nats://([\w.-]+):(\d+)", text)
    assert sorted(routes) == [(f"nats-{i}.{service}", str(ports["cluster"])) for i in range(servers)]
    assert re.search(rf"^port: {ports['client']}$", text, re.M) and re.search(rf"^http_port: {ports['monitor']}$",
                                                                             text, re.M)
    assert re.search(r"^\s*store_dir: /data$", text, re.M), "JetStream must store on the PVC"
    assert re.search(r"^server_name: \$POD_NAME$", text, re.M)
    env = {e["name"]: e for e in container(nats_set)["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert nats_set["spec"]["podManagementPolicy"] == "Parallel"  # a quorum must form before any is ready
    assert of_kind(docs, "Service")[service]["spec"]["publishNotReadyAddresses"] is True


def test_services_listen_on_all_interfaces_and_probe_their_env_port(docs: list[Doc]) -> None:
    services = of_kind(docs, "Service")
    for name, deployment in of_kind(docs, "Deployment").items():
        config = config_of(name, deployment, docs)
        assert config.grpc_host == "0.0.0.0", name
        kinds = ("startupProbe", "readinessProbe", "livenessProbe")
        # kubelet's gRPC probes do neither TLS nor tokens: they ask the plaintext, health-only port
        probe_ports = {kind: container(deployment)[kind]["grpc"]["port"] for kind in kinds}
        assert config.health_port and probe_ports == dict.fromkeys(kinds, config.health_port), name
        assert container(deployment)["ports"] == [{"name": "grpc", "containerPort": config.grpc_port},
                                                  {"name": "health", "containerPort": config.health_port},
                                                  {"name": "metrics", "containerPort": config.metrics_port}], name
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= pod_labels.items(), name
        assert [(p["name"], p["targetPort"]) for p in services[name]["spec"]["ports"]] == [
            ("grpc", "grpc"), ("metrics", "metrics")], name


def test_every_service_serves_metrics_where_prometheus_looks(docs: list[Doc]) -> None:
    """Contract part A: SELFAWARE_METRICS_PORT=9090, container and Service port `metrics`, scrape annotations."""
    for name, deployment in of_kind(docs, "Deployment").items():
        port = config_of(name, deployment, docs).metrics_port
        assert port == 9090, name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                               "prometheus.io/path": "/metrics"}, name
        (service_port,) = (p for p in of_kind(docs, "Service")[name]["spec"]["ports"] if p["name"] == "metrics")
        assert service_port["port"] == port, name


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
        if KUSTOMIZATIONS[kustomization].max_pods > 1:
            # Several pods on several nodes: each its own claim (a generic ephemeral volume), never a shared RWO one.
            assert data.keys() == {"name", "ephemeral"}, f"{name}: each pod needs its own data dir claim"
            spec = data["ephemeral"]["volumeClaimTemplate"]["spec"]
        else:
            assert data.keys() == {"name", "persistentVolumeClaim"}, f"{name}: the data dir must be only a PVC"
            spec = claims[data["persistentVolumeClaim"]["claimName"]]["spec"]
        assert quantity(spec["resources"]["requests"]["storage"]) >= 2 * weights, name  # + original/
        assert spec["accessModes"] == ["ReadWriteOnce"], name
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


def test_every_container_has_probes_and_resources(docs: list[Doc]) -> None:
    for workload in [*of_kind(docs, "Deployment").values(), *of_kind(docs, "StatefulSet").values()]:
        for c in workload["spec"]["template"]["spec"]["containers"]:
            where = f"{workload['metadata']['name']}/{c['name']}"
            assert {"startupProbe", "readinessProbe", "livenessProbe"} <= c.keys(), where
            assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), where
            assert "memory" in c["resources"]["limits"], where


# --- KEDA ---------------------------------------------------------------------------------------------------------

#: The fields KEDA's ScaledObject (keda.sh/v1alpha1) and its nats-jetstream trigger accept (keda.sh/docs, "Scaling
#: Deployments" and "NATS JetStream"; pkg/scalers/nats_jetstream_scaler.go). Anything else is a typo KEDA ignores.
SCALED_OBJECT_SPEC = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                      "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"}
SCALE_TARGET = {"apiVersion", "kind", "name", "envSourceContainerName"}
ADVANCED = {"restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig", "scalingModifiers"}
HPA_CONFIG = {"name", "behavior"}
TRIGGER = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
JETSTREAM_METADATA = {"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold",
                      "activationLagThreshold", "useHttps"}
JETSTREAM_REQUIRED = {"natsServerMonitoringEndpoint", "account", "stream", "consumer"}


def scaled_objects(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if (d["apiVersion"], d["kind"]) in KEDA_KINDS}


def test_keda_scaled_objects_have_the_shape_keda_accepts(kustomization: str, docs: list[Doc]) -> None:
    """Structural (see the module docstring): KEDA's CRD schema ships in no PyPI package."""
    objects = scaled_objects(docs)
    max_pods = KUSTOMIZATIONS[kustomization].max_pods
    assert set(objects) == (GPU_SERVICES if max_pods else set()), kustomization
    deployments = of_kind(docs, "Deployment")
    for name, scaled in objects.items():
        spec = scaled["spec"]
        assert set(scaled) == {"apiVersion", "kind", "metadata", "spec"}, name
        assert spec.keys() <= SCALED_OBJECT_SPEC and spec["scaleTargetRef"].keys() <= SCALE_TARGET, name
        assert spec["scaleTargetRef"]["name"] in deployments, name
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment", name
        assert spec["minReplicaCount"] == 0 and spec["maxReplicaCount"] == max_pods, name
        for key in ("pollingInterval", "cooldownPeriod"):
            assert isinstance(spec[key], int) and spec[key] > 0, (name, key)
        # Long enough that a pod is not stopped between one job and the next: a model loads in minutes.
        assert spec["cooldownPeriod"] >= 600, name
        assert spec["advanced"].keys() <= ADVANCED, name
        hpa = spec["advanced"]["horizontalPodAutoscalerConfig"]
        assert hpa.keys() <= HPA_CONFIG, name
        # The HPA behaviour is Kubernetes' own type: validate it strictly inside the HPA KEDA creates.
        kubernetes_validate.validate({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": 1, "maxReplicas": spec["maxReplicaCount"], "behavior": hpa["behavior"]},
        }, K8S_VERSION, strict=True)
        for trigger in spec["triggers"]:
            assert trigger.keys() <= TRIGGER and trigger["type"] == "nats-jetstream", name
            metadata = trigger["metadata"]
            assert JETSTREAM_REQUIRED <= metadata.keys() <= JETSTREAM_METADATA, name
            assert all(isinstance(v, str) for v in metadata.values()), f"{name}: trigger metadata are strings"
            assert int(metadata["lagThreshold"]) >= 1 and int(metadata["activationLagThreshold"]) >= 0, name
            assert metadata["account"] == "$G", name  # NATS's global account: the servers define no accounts


# --- cert-manager and the gRPC security settings -------------------------------------------------------------------

#: The fields of cert-manager.io/v1 Issuer and Certificate these manifests may use (cert-manager's API reference).
ISSUER_SPEC = {"selfSigned", "ca", "acme", "vault", "venafi"}
CERTIFICATE_SPEC = {"commonName", "dnsNames", "ipAddresses", "uris", "emailAddresses", "otherNames", "secretName",
                    "secretTemplate", "duration", "renewBefore", "renewBeforePercentage", "usages", "privateKey",
                    "issuerRef", "isCA", "subject", "literalSubject", "keystores", "revisionHistoryLimit",
                    "additionalOutputFormats", "encodeUsagesInRequest", "nameConstraints"}
PRIVATE_KEY = {"algorithm", "encoding", "size", "rotationPolicy"}
ISSUER_REF = {"name", "kind", "group"}
KEY_USAGES = {"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
              "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
              "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"}


def hours(duration: str) -> float:
    match = re.fullmatch(r"(\d+)h", duration)
    assert match, f"durations here are whole hours, not {duration!r}"
    return float(match.group(1))


def secret_mounts(workload: Doc) -> dict[str, str]:
    """Secret name -> mount path of the workload's container."""
    volumes = {v["name"]: v["secret"]["secretName"] for v in workload["spec"]["template"]["spec"]["volumes"]
               if "secret" in v}
    return {volumes[m["name"]]: m["mountPath"] for m in container(workload)["volumeMounts"] if m["name"] in volumes}


def test_cert_manager_issues_the_grpc_certificate_every_service_mounts(docs: list[Doc]) -> None:
    """Structural (see the module docstring): a self-signed root makes the CA, the CA issues the services'
    certificate for every name a client dials, and every service serves TLS from it and requires tokens."""
    issuers, certificates = of_kind(docs, "Issuer"), of_kind(docs, "Certificate")
    for name, issuer in issuers.items():
        assert set(issuer) == {"apiVersion", "kind", "metadata", "spec"} and len(issuer["spec"]) == 1, name
        assert issuer["spec"].keys() <= ISSUER_SPEC, name
    for name, certificate in certificates.items():
        spec = certificate["spec"]
        assert spec.keys() <= CERTIFICATE_SPEC and spec["privateKey"].keys() <= PRIVATE_KEY, name
        assert spec["issuerRef"].keys() <= ISSUER_REF and spec["issuerRef"]["kind"] == "Issuer", name
        assert set(spec.get("usages", [])) <= KEY_USAGES, name
        assert spec["issuerRef"]["name"] in issuers, name
    by_secret = {c["spec"]["secretName"]: c for c in certificates.values()}
    server = certificates["selfaware-grpc"]["spec"]
    ca_issuer = issuers[server["issuerRef"]["name"]]["spec"]
    ca = by_secret[ca_issuer["ca"]["secretName"]]["spec"]
    assert ca["isCA"] is True and "selfSigned" in issuers[ca["issuerRef"]["name"]]["spec"]
    assert not server.get("isCA") and "server auth" in server["usages"]
    assert hours(server["duration"]) > hours(server["renewBefore"]) > 0
    namespace = of_kind(docs, "Service")["aggregator"]["metadata"]["namespace"]
    for name, workload in of_kind(docs, "Deployment").items():
        names = {name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"}
        assert names | {"localhost"} <= set(server["dnsNames"]), name
        config = config_of(name, workload, docs)
        mounts = secret_mounts(workload)
        assert config.auth_mode == "tokens" and not config.tls_client_ca_file, name
        assert {config.tls_cert_file, config.tls_key_file} == {f"{mounts[server['secretName']]}/tls.crt",
                                                              f"{mounts[server['secretName']]}/tls.key"}, name
        assert config.auth_tokens_file == f"{mounts['selfaware-tokens']}/tokens.yaml", name


def test_the_tokens_secret_example_holds_no_usable_token() -> None:
    """The committed example shows the shape; its placeholders fail loudly if applied unchanged."""
    example = yaml.safe_load((K8S_DIR / "base" / "tokens.example.yaml").read_text())
    kubernetes_validate.validate(example, K8S_VERSION, strict=True)
    listed = yaml.safe_load(example["stringData"]["tokens.yaml"])["tokens"]
    assert listed and all(not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) for entry in listed)
    kustomization = yaml.safe_load((K8S_DIR / "base" / "kustomization.yaml").read_text())
    assert "tokens.example.yaml" not in kustomization["resources"]


def declared_consumers(name: str) -> set[tuple[str, str]]:
    """(stream, durable) of every consumer the service declares, from its handlers' own `declare()`."""
    bus = EventBus(nats.NATS())  # never connected: `declare()` only records the subscriptions
    runtime = Runtime(bus, None, None)  # type: ignore[arg-type]
    if name == "trainer":
        TrainerHandlers(TrainerConfig(), runtime).declare()
    else:
        EvaluatorHandlers(EvaluatorConfig(), runtime, None).declare()  # type: ignore[arg-type]
    return {(sub.stream, sub.durable) for sub in bus._subs}


def test_keda_watches_the_consumers_the_code_declares(docs: list[Doc]) -> None:
    for name, scaled in scaled_objects(docs).items():
        watched = {(t["metadata"]["stream"], t["metadata"]["consumer"]) for t in scaled["spec"]["triggers"]}
        assert watched == declared_consumers(scaled["spec"]["scaleTargetRef"]["name"]), name


def test_keda_reads_the_nats_services_monitoring_port(docs: list[Doc]) -> None:
    nats_set = of_kind(docs, "StatefulSet")["nats"]
    service = of_kind(docs, "Service")[nats_set["spec"]["serviceName"]]
    monitor = {p["name"]: p["containerPort"] for p in container(nats_set)["ports"]}["monitor"]
    for name, scaled in scaled_objects(docs).items():
        for trigger in scaled["spec"]["triggers"]:
            host, _, port = trigger["metadata"]["natsServerMonitoringEndpoint"].partition(":")
            assert host == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
            (service_port,) = (p for p in service["spec"]["ports"] if p["port"] == int(port))
            assert service_port["targetPort"] == "monitor", name
            assert trigger["metadata"].get("useHttps", "false") == "false" and monitor == int(port), name


# --- NetworkPolicies ----------------------------------------------------------------------------------------------

def pods_selected(selector: Doc, docs: list[Doc]) -> set[str]:
    """Names of the workloads whose pod labels `selector` (matchLabels, matchExpressions with In) selects."""
    chosen = set()
    for workload in [*of_kind(docs, "Deployment").values(), *of_kind(docs, "StatefulSet").values()]:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        ok = selector.get("matchLabels", {}).items() <= labels.items()
        for expression in selector.get("matchExpressions", []):
            assert expression["operator"] == "In", expression  # the only operator these manifests use
            ok = ok and labels.get(expression["key"]) in expression["values"]
        if ok:
            chosen.add(workload["metadata"]["name"])
    return chosen


def port_name(workload: str, port: str | int, docs: list[Doc]) -> str:
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "StatefulSet")}
    ports = {p["name"]: p["containerPort"] for p in container(workloads[workload])["ports"]}
    if isinstance(port, str):
        assert port in ports, f"{workload} has no port named {port}"
        return port
    (name,) = (n for n, number in ports.items() if number == port)
    return name


def test_network_policies_open_only_the_api_and_metrics_beyond_the_namespace(kustomization: str,
                                                                             docs: list[Doc]) -> None:
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}  # every pod, no rule: deny by default
    outside: set[tuple[str, str]] = set()  # (workload, port) reachable from other namespaces or outside
    inside: set[tuple[str, str, str]] = set()  # (workload, port, source workload) within the namespace
    keda: set[tuple[str, str]] = set()
    for policy in policies.values():
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"] and "egress" not in spec, policy["metadata"]["name"]
        targets = pods_selected(spec["podSelector"], docs)
        for rule in spec.get("ingress", []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: a rule must name its ports"
            for peer in rule.get("from", [{}]):
                assert "ipBlock" not in peer
                for target in targets:
                    for port in rule["ports"]:
                        named = port_name(target, port["port"], docs)
                        if peer.get("namespaceSelector") == {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}:
                            assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name":
                                                                           "keda-operator"}}
                            keda.add((target, named))
                        elif "namespaceSelector" in peer or not peer:
                            outside.add((target, named))
                        else:
                            sources = pods_selected(peer["podSelector"], docs)
                            inside |= {(target, named, source) for source in sources}
    assert outside == {("aggregator", "grpc")} | {(name, "metrics") for name in CONFIGS}
    assert keda == ({("nats", "monitor")} if KUSTOMIZATIONS[kustomization].max_pods else set())
    routes = {("nats", "cluster", "nats")} if KUSTOMIZATIONS[kustomization].nats_servers > 1 else set()
    # Inside the namespace, the selfaware pods (NATS's own included) reach NATS's client port; nothing else.
    assert inside == {("nats", "client", name) for name in [*CONFIGS, "nats"]} | routes


# --- production ----------------------------------------------------------------------------------------------------

def test_production_budgets_priorities_and_quota(kustomization: str, docs: list[Doc]) -> None:
    sizing = KUSTOMIZATIONS[kustomization]
    budgets, classes = of_kind(docs, "PodDisruptionBudget"), of_kind(docs, "PriorityClass")
    if sizing.nats_servers == 1:
        assert not budgets and not classes and not of_kind(docs, "ResourceQuota")
        return
    # Disruptions take one pod at a time: NATS keeps its quorum, GPU pods hand their jobs back.
    assert {name: b["spec"] for name, b in budgets.items()} == {
        name: {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}}
        for name in ("nats", "trainer", "evaluator")}
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "StatefulSet")}
    priority = {name: w["spec"]["template"]["spec"]["priorityClassName"] for name, w in workloads.items()}
    assert set(priority.values()) == set(classes)
    value = {name: classes[c]["value"] for name, c in priority.items()}
    # Training gives way to everything and preempts nothing: it resumes from its last resume state.
    assert value["trainer"] < value["evaluator"] < min(value[n] for n in ("nats", "aggregator", "generator"))
    assert classes[priority["trainer"]]["preemptionPolicy"] == "Never"
    assert not any(c["globalDefault"] for c in classes.values())
    # The quota admits the full scale-out: NATS, one aggregator and generator, max_pods trainers and evaluators.
    (quota,) = of_kind(docs, "ResourceQuota").values()
    hard = {k: quantity(v) for k, v in quota["spec"]["hard"].items()}
    used: dict[str, float] = dict.fromkeys(hard, 0.0)
    for workload in workloads.values():
        count = workload["spec"].get("replicas") or sizing.max_pods
        resources = container(workload)["resources"]
        for kind, amount in resources["requests"].items():
            used[f"requests.{kind}"] += count * quantity(amount)
        used["limits.memory"] += count * quantity(resources["limits"]["memory"])
        used["requests.nvidia.com/gpu"] += count * quantity(resources["limits"].get("nvidia.com/gpu", 0))
        claims = [c["spec"] for c in workload["spec"].get("volumeClaimTemplates", [])] + [
            v["ephemeral"]["volumeClaimTemplate"]["spec"] for v in workload["spec"]["template"]["spec"]["volumes"]
            if "ephemeral" in v]
        used["persistentvolumeclaims"] += count * len(claims)
        used["requests.storage"] += count * sum(quantity(c["resources"]["requests"]["storage"]) for c in claims)
    over = {k: (used[k], hard[k]) for k in hard if used[k] > hard[k]}
    assert not over, f"the quota is below the full scale-out (used, hard): {over}"
    assert used["requests.nvidia.com/gpu"] == hard["requests.nvidia.com/gpu"]  # GPUs: exactly the scale-out


# --- NATS users and TLS -------------------------------------------------------------------------------------------

def test_every_service_connects_to_nats_as_its_own_user(docs: list[Doc]) -> None:
    """Each Deployment's NATS user is its service's, its password file is the Secret key of that user only; the
    NATS pod gets every user's password from the same Secret, under the env names nats-auth.conf references;
    the provisioning Job runs as the provisioning user."""
    from selfaware.nats_auth import PROVISION_USER, USERS, k8s_authorization, password_env

    text, _, files = nats_config(docs)
    assert files["nats-auth.conf"] == k8s_authorization()
    assert "include ./nats-auth.conf" in text or container(of_kind(docs, "StatefulSet")["nats"])["args"][-1] == \
        "/etc/nats/nats-auth.conf"
    nats_env = {e["name"]: e.get("valueFrom") for e in container(of_kind(docs, "StatefulSet")["nats"])["env"]}
    for user in USERS:
        assert nats_env[password_env(user)] == {"secretKeyRef": {"name": "nats-users", "key": user}}, user
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}
    assert set(workloads) == {*CONFIGS, "nats-provision"}
    for name, workload in workloads.items():
        user = PROVISION_USER if name == "nats-provision" else name
        env = {e["name"]: e["value"] for e in container(workload)["env"] if "value" in e}
        assert env["SELFAWARE_NATS_USER"] == user, name
        password = Path(env["SELFAWARE_NATS_PASSWORD_FILE"])
        mount = next(m for m in container(workload)["volumeMounts"] if m["mountPath"] == str(password.parent))
        volume = next(v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
        assert volume["secret"] == {"secretName": "nats-users", "items": [{"key": user, "path": password.name}]}
        if name in CONFIGS:
            assert config_of(name, workload, docs).nats_user == user


def test_production_nats_uses_tls_for_clients_and_routes(kustomization: str, docs: list[Doc]) -> None:
    """Production: cert-manager issues the servers' certificate for the Service and every pod; the servers
    require TLS from clients and on routes; every selfaware pod verifies it against the CA (ca.crt only)."""
    text, _, _ = nats_config(docs)
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}
    if KUSTOMIZATIONS[kustomization].nats_servers == 1:
        assert "tls" not in text and "nats-server-tls" not in of_kind(docs, "Certificate")
        return
    certificate = of_kind(docs, "Certificate")["nats-server-tls"]["spec"]
    service = of_kind(docs, "StatefulSet")["nats"]["spec"]["serviceName"]
    assert {service, f"*.{service}", f"{service}.selfaware.svc"} <= set(certificate["dnsNames"])
    assert {"server auth", "client auth"} <= set(certificate["usages"])
    assert re.search(r"^tls \{[^}]*cert_file: /etc/nats/tls/tls.crt", text, re.M)
    assert re.search(r"cluster \{.*?tls \{[^}]*verify: true", text, re.S)
    nats_volumes = of_kind(docs, "StatefulSet")["nats"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tls", "secret": {"secretName": certificate["secretName"]}} in nats_volumes
    for name, workload in workloads.items():
        maps = of_kind(docs, "ConfigMap")
        env = {k: v for source in container(workload)["envFrom"] for k, v in
               maps[source["configMapRef"]["name"]]["data"].items()}
        ca = Path(env["SELFAWARE_NATS_TLS_CA_FILE"])
        mount = next(m for m in container(workload)["volumeMounts"] if m["mountPath"] == str(ca.parent))
        volume = next(v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
        assert volume["secret"] == {"secretName": certificate["secretName"], "items": [{"key": "ca.crt",
                                                                                         "path": ca.name}]}, name
