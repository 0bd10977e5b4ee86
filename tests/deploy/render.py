"""A small kustomize for the subset deploy/k8s uses, so the manifests can be checked on a
machine without the kustomize binary: resources, namespace, labels, images, and config map /
secret generators (envs, files, literals) without name hashes."""

import base64
from pathlib import Path

import yaml

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "IngressClass"}


def _load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _generated(kind: str, spec: dict, base: Path) -> dict:
    data: dict[str, str] = {}
    for env in spec.get("envs", []):
        data.update(_env_file(base / env))
    for entry in spec.get("files", []):
        key, _, rel = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)
        path = base / rel
        if not path.is_file():
            raise FileNotFoundError(f"{kind} {spec['name']}: {rel} does not exist")
        data[key] = path.read_text()
    for literal in spec.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": spec["name"]}}
    if kind == "Secret":
        doc["type"] = "Opaque"
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        doc["data"] = data
    return doc


def _pod_specs(doc: dict):
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        yield spec["template"]["spec"]
    elif doc["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]


def render(base: Path) -> list[dict]:
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        docs.extend(_load_all(base / resource))
    for spec in kustomization.get("configMapGenerator", []):
        docs.append(_generated("ConfigMap", spec, base))
    for spec in kustomization.get("secretGenerator", []):
        docs.append(_generated("Secret", spec, base))
    namespace = kustomization.get("namespace")
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        labels.update(entry.get("pairs", {}))
    labels.update(kustomization.get("commonLabels", {}))
    images = {image["name"]: image for image in kustomization.get("images", [])}
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        if namespace and doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = namespace
        meta.setdefault("labels", {}).update(labels)
        for pod in _pod_specs(doc):
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                name, _, tag = container["image"].partition(":")
                if name in images:
                    image = images[name]
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
    return docs


def pod_specs(doc: dict):
    return list(_pod_specs(doc))
