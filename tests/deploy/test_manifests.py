"""deploy/ is checked without containers (there is no Docker engine here): the YAML parses, the
kustomize base renders (with kubectl's kustomize when present, and always with our small
renderer), every secret and variable a container uses is defined and read by the code, the
commands name things that exist, and the probes hit URLs the archive answers."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import Resolver404, resolve

from .render import pod_specs, render

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SECRET_FILES = [
    "django_secret_key",
    "c4gh_archive_key",
    "c4gh_passphrase",
    "visa_signing_key",
    "s3_secret_key",
    "metrics_token",
    "database_url",
]
# Read by libraries rather than by our settings.
EXTERNAL_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "PROMETHEUS_MULTIPROC_DIR",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
}
ARCHIVE_COMMANDS = {"gunicorn", "celery", "python"}


def variables_read_by_code() -> set[str]:
    """Names the settings (env_* helpers; secrets also as NAME_FILE) and gunicorn.conf.py read."""
    names: set[str] = set()
    settings_text = (REPO / "gdi_archive" / "settings.py").read_text()
    for kind, name in re.findall(r'env_(str|bool|int|list|secret|json)\(\s*"([A-Z0-9_]+)"', settings_text):
        names.add(name)
        if kind == "secret":
            names.add(f"{name}_FILE")
    gunicorn_text = (DEPLOY / "gunicorn.conf.py").read_text()
    names.update(re.findall(r'(?:environ\.get|_int)\(\s*"([A-Z0-9_]+)"', gunicorn_text))
    return names


def production_required() -> set[str]:
    return {
        "ENVIRONMENT",
        "BASE_URL",
        "DATABASE_URL",
        "REDIS_URL",
        "STORAGE_URL",
        "INBOX_URL",
        "OUTBOX_URL",
        "S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY_FILE",
        "SECRET_KEY_FILE",
        "C4GH_SECRET_KEY_FILE",
        "C4GH_PASSPHRASE_FILE",
        "VISA_SIGNING_KEY_FILE",
    }


@pytest.fixture(scope="module")
def k8s_copy(tmp_path_factory) -> Path:
    """deploy/k8s with stand-in secret files, as an operator would have after deploy/README.md."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy)
    for name in SECRET_FILES:
        (copy / "secrets" / name).write_text(f"stand-in {name}\n")
    return copy


@pytest.fixture(scope="module")
def rendered(k8s_copy) -> list[dict]:
    return render(k8s_copy)


def by_kind(docs, kind):
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def check_command(command: list[str]) -> None:
    """An archive container's command names a real entry point of this code base."""
    assert command[0] in ARCHIVE_COMMANDS, command
    if command[0] == "gunicorn":
        assert command[1:] == ["-c", "deploy/gunicorn.conf.py", "gdi_archive.wsgi"], command
        assert (REPO / "gdi_archive" / "wsgi.py").is_file()
    elif command[0] == "celery":
        assert command[1:3] == ["-A", "gdi_archive"], command
        assert "app = Celery(" in (REPO / "gdi_archive" / "celery.py").read_text()
        assert command[3] in ("worker", "beat"), command
        if command[3] == "worker" and "-Q" in command:
            # Without -Q a worker consumes CELERY_TASK_QUEUES (every routed queue); a -Q must too.
            queues = command[command.index("-Q") + 1]
            from django.conf import settings

            assert set(queues.split(",")) == set(settings.CELERY_WORKER_QUEUES.split(",")), (
                "worker must consume every queue tasks are routed to"
            )
    else:
        assert command[1] == "manage.py", command
        assert command[2] in get_commands(), f"manage.py {command[2]} does not exist"


def check_probe(path: str) -> None:
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"probe {path} is not a URL of the archive")


# --- YAML ---------------------------------------------------------------------------------------


def test_every_yaml_file_in_deploy_parses():
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert docs, f"{path} is empty"


# --- Kubernetes ---------------------------------------------------------------------------------


def test_kustomize_renders_the_base_and_matches_kubectl(k8s_copy, rendered):
    kinds = sorted((doc["kind"], doc["metadata"]["name"]) for doc in rendered)
    for needed in [
        ("Deployment", "gdi-archive-web"),
        ("Deployment", "gdi-archive-worker"),
        ("Deployment", "gdi-archive-beat"),
        ("Service", "gdi-archive-web"),
        ("Ingress", "gdi-archive"),
        ("ConfigMap", "gdi-archive-config"),
        ("Secret", "gdi-archive-keys"),
        ("PodDisruptionBudget", "gdi-archive-web"),
        ("Job", "gdi-archive-migrate"),
    ]:
        assert needed in kinds
    kubectl = shutil.which("kubectl") or shutil.which("kustomize")
    if kubectl:
        args = (
            [kubectl, "kustomize", str(k8s_copy)] if kubectl.endswith("kubectl") else [kubectl, "build", str(k8s_copy)]
        )
        out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
        theirs = sorted((doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(out) if doc)
        assert theirs == kinds
        # Same images after the `images:` transformer, same namespace.
        assert {
            doc["metadata"].get("namespace") for doc in yaml.safe_load_all(out) if doc and doc["kind"] != "Namespace"
        } == {"gdi-archive"}


def test_kustomize_refuses_when_a_secret_file_is_missing(tmp_path):
    shutil.copytree(K8S, tmp_path / "k8s")
    with pytest.raises(FileNotFoundError):
        render(tmp_path / "k8s")
    # ... and git never sees the real ones.
    ignored = (K8S / "secrets" / ".gitignore").read_text()
    assert "*" in ignored.split()


def test_web_and_worker_scale_independently_with_probes_and_requests(rendered):
    deployments = by_kind(rendered, "Deployment")
    web, worker = deployments["gdi-archive-web"], deployments["gdi-archive-worker"]
    assert web["spec"]["selector"] != worker["spec"]["selector"]
    for deployment in (web, worker):
        container = pod_specs(deployment)[0]["containers"][0]
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        for probe in ("livenessProbe", "readinessProbe"):
            check_probe(container[probe]["httpGet"]["path"])
            assert container[probe]["httpGet"]["port"] in ports
    worker_container = pod_specs(worker)[0]["containers"][0]
    worker_env = {item["name"]: item.get("value") for item in worker_container["env"]}
    assert int(worker_env["WORKER_HTTP_PORT"]) == worker_container["ports"][0]["containerPort"]


def test_beat_is_a_single_replica_that_is_recreated(rendered):
    beat = by_kind(rendered, "Deployment")["gdi-archive-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert pod_specs(beat)[0]["containers"][0]["command"][3] == "beat"


def test_disruption_budgets_service_and_ingress_point_at_real_pods(rendered):
    pods = [doc["spec"]["template"]["metadata"]["labels"] for doc in by_kind(rendered, "Deployment").values()]

    def matches(selector):
        return [labels for labels in pods if all(labels.get(k) == v for k, v in selector.items())]

    budgets = by_kind(rendered, "PodDisruptionBudget")
    assert len(budgets) >= 2
    for budget in budgets.values():
        assert len(matches(budget["spec"]["selector"]["matchLabels"])) == 1
    service = by_kind(rendered, "Service")["gdi-archive-web"]
    assert matches(service["spec"]["selector"])
    web_ports = {
        p["name"] for p in pod_specs(by_kind(rendered, "Deployment")["gdi-archive-web"])[0]["containers"][0]["ports"]
    }
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= web_ports
    ingress = by_kind(rendered, "Ingress")["gdi-archive"]
    for rule in ingress["spec"]["rules"]:
        for item in rule["http"]["paths"]:
            backend = item["backend"]["service"]
            assert backend["name"] in by_kind(rendered, "Service")
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}


def test_every_secret_config_and_variable_in_the_pods_is_defined_and_read(rendered):
    secrets = by_kind(rendered, "Secret")
    configs = by_kind(rendered, "ConfigMap")
    known = variables_read_by_code() | EXTERNAL_VARIABLES
    images = set()
    for name, doc in {**by_kind(rendered, "Deployment"), **by_kind(rendered, "Job")}.items():
        pod = pod_specs(doc)[0]
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in pod["containers"]:
            images.add(container["image"])
            check_command(container["command"])
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                config = configs[source["configMapRef"]["name"]]
                env.update(config["data"])
            mounts = {}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{name}: volume {mount['name']} is not defined"
                mounts[mount["mountPath"].rstrip("/")] = volumes[mount["name"]]
            for item in container.get("env", []):
                if "valueFrom" in item:
                    ref = item["valueFrom"]["secretKeyRef"]
                    assert ref["key"] in secrets[ref["name"]]["data"], f"{name}: {ref} is not defined"
                    env[item["name"]] = "<secret>"
                else:
                    env[item["name"]] = item["value"]
            unknown = set(env) - known
            assert not unknown, f"{name}: the code reads none of {sorted(unknown)}"
            missing = production_required() - set(env)
            assert not missing, f"{name}: production needs {sorted(missing)}"
            assert env["ENVIRONMENT"] == "production"
            for key, value in env.items():
                if key.endswith("_FILE"):
                    folder, _, filename = value.rpartition("/")
                    volume = mounts.get(folder)
                    assert volume and "secret" in volume, f"{name}: {key}={value} is not on a mounted Secret"
                    assert filename in secrets[volume["secret"]["secretName"]]["data"], f"{name}: {key}: no such key"
    assert len(images) == 1, f"one image for every archive container, not {images}"


# --- compose ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


ARCHIVE_SERVICES = ("migrate", "web", "worker", "beat")


def _compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return {key: "" if value is None else str(value) for key, value in env.items()}


def test_compose_has_the_whole_stack(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "minio", "web", "worker", "beat", "proxy", "migrate"):
        assert name in services, name
    assert services["proxy"]["ports"] and "443:443" in services["proxy"]["ports"]
    caddyfile = DEPLOY / "Caddyfile"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"] and caddyfile.is_file()
    port = _compose_env(services["web"])["GUNICORN_BIND"].rsplit(":", 1)[1]
    assert f"reverse_proxy web:{port}" in caddyfile.read_text()


def test_compose_archive_services_are_consistent(compose):
    services = compose["services"]
    known = variables_read_by_code() | EXTERNAL_VARIABLES
    for name in ARCHIVE_SERVICES:
        service = services[name]
        env = _compose_env(service)
        check_command([part for part in service["command"]])
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert not set(env) - known, f"{name}: the code reads none of {sorted(set(env) - known)}"
        assert not production_required() - set(env), (
            f"{name}: production needs {sorted(production_required() - set(env))}"
        )
        for key, value in env.items():
            if key.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                assert value.startswith("/run/secrets/") and secret in service["secrets"], f"{name}: {key}"
        for secret in service["secrets"]:
            assert secret in compose["secrets"], f"{name}: secret {secret} is not defined"
    for name, secret in compose["secrets"].items():
        assert secret["file"].startswith("./secrets/"), name
    assert "/secrets/" in (DEPLOY / ".gitignore").read_text().split()


def test_compose_healthchecks_ask_the_archive_on_its_own_ports(compose):
    for name in ("web", "worker"):
        service = compose["services"][name]
        env = _compose_env(service)
        test = " ".join(service["healthcheck"]["test"])
        match = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", test)
        assert match, f"{name}: healthcheck does not ask over HTTP"
        port = env.get("WORKER_HTTP_PORT") if name == "worker" else env["GUNICORN_BIND"].rsplit(":", 1)[1]
        assert match.group(1) == port, f"{name}: healthcheck port {match.group(1)} is not the one it listens on"
        check_probe(match.group(2))


def test_compose_interpolations_are_documented_in_env_example():
    text = (DEPLOY / "compose.yaml").read_text()
    example = (DEPLOY / "env.example").read_text()
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)", text)):
        assert re.search(rf"^#?\s*{name}=", example, re.M), f"{name} is not in deploy/env.example"


def test_dockerfile_matches_the_commands(compose):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1)
    assert yaml.safe_load(cmd) == compose["services"]["web"]["command"]
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert re.search(r"^USER \d+", dockerfile, re.M), "the image must not run as root"
    assert "collectstatic" in dockerfile


# --- the settings really start with this configuration --------------------------------------------


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def one(match):
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", one, value)


def _production_env(tmp_path: Path) -> dict:
    """The compose web service's environment, with its secrets as real files and its services local."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("C4GH", "VISA", "SECRET", "BASE_URL"))
    }
    operator = {
        "ARCHIVE_HOST": "archive.example.org",
        "POSTGRES_PASSWORD": "not-used-here",
        "GDI_COUNTRY": "EE",
        "GDI_ORGANISATION": "EXAMPLE",
        "FDP_PUBLISHER_NAME": "Example genome archive",
        "FDP_PUBLISHER_EMAIL": "data@example.org",
    }
    env.update({key: _interpolate(value, operator) for key, value in _compose_env(compose["services"]["web"]).items()})
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    contents = {
        "django_secret_key": "k" * 20 + os.urandom(16).hex(),
        "c4gh_passphrase": "a long passphrase",
        "c4gh_archive_key": _c4gh_secret_key(tmp_path, "a long passphrase"),
        "visa_signing_key": _rsa_pem(),
    }
    for key, value in list(env.items()):
        if value.startswith("/run/secrets/"):
            name = value.removeprefix("/run/secrets/")
            (secrets / name).write_text(contents.get(name, f"stand-in {name}"))
            env[key] = str(secrets / name)
    env.update(
        GDI_COUNTRY="EE",
        GDI_ORGANISATION="DEMO",
        FDP_PUBLISHER_NAME="Example genome archive",
        BASE_URL="https://archive.example.org",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATA_DIR=str(tmp_path / "data"),
    )
    # What the operator mounts at FDP_SHAPES_DIR (start-up only looks for *.ttl files there).
    shapes = tmp_path / "shapes"
    shapes.mkdir()
    (shapes / "Stand-in.ttl").write_text("")
    env["FDP_SHAPES_DIR"] = str(shapes)
    return env


def _c4gh_secret_key(tmp_path: Path, passphrase: str) -> str:
    from crypt4gh.keys import c4gh

    c4gh.generate(
        str(tmp_path / "archive.sec"), str(tmp_path / "archive.pub"), passphrase=passphrase.encode(), comment=b"test"
    )
    return (tmp_path / "archive.sec").read_text()


def _rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_production_configuration_passes_django_deploy_checks(tmp_path):
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("drop", ["SECRET_KEY_FILE", "C4GH_SECRET_KEY_FILE", "VISA_SIGNING_KEY_FILE", "BASE_URL"])
def test_production_refuses_to_start_without_a_secret(tmp_path, drop):
    env = _production_env(tmp_path)
    del env[drop]
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "production" in result.stderr


def test_production_refuses_to_start_without_the_gdi_shapes(tmp_path):
    env = _production_env(tmp_path)
    del env["FDP_SHAPES_DIR"]
    env["GDI_SHARED_DIR"] = str(tmp_path / "no-shared-folder")  # nor a shared standards folder
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "FDP_SHAPES_DIR is required in production" in result.stderr
    # A folder named but empty is a mistake in every mode: the start says so.
    env["FDP_SHAPES_DIR"] = str(tmp_path / "no-shared-folder")
    result = _manage({**env, "ENVIRONMENT": "development"}, "check")
    assert result.returncode != 0 and "holds no SHACL shapes" in result.stderr


def test_development_without_the_gdi_shapes_starts_and_warns(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FDP_", "ENVIRONMENT"))}
    env.update(
        GDI_SHARED_DIR=str(tmp_path / "no-shared-folder"),
        DATA_DIR=str(tmp_path / "data"),
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
    )
    result = _manage(env, "check")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fdp.W001" in result.stderr and "FDP_SHAPES_DIR" in result.stderr


def test_gunicorn_configuration_streams_with_threads_and_long_timeouts(tmp_path):
    env = {**os.environ, "GUNICORN_WORKERS": "3", "GUNICORN_BIND": "127.0.0.1:0", "DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "deploy/gunicorn.conf.py",
            "--print-config",
            "gdi_archive.wsgi",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    config = dict(re.findall(r"^(\w+)\s+= (.*)$", out.stdout, re.M))
    assert config["worker_class"] == "gthread"
    assert config["workers"] == "3" and config["bind"] == "['127.0.0.1:0']"
    assert int(config["timeout"]) >= 300
    assert "JsonAccessLogger" in config["logger_class"]


# --- the operator's guide -------------------------------------------------------------------------


def test_readme_covers_what_an_operator_needs():
    text = (DEPLOY / "README.md").read_text()
    for needed in [
        "crypt4gh-keygen",
        "openssl",
        "ENVIRONMENT=production",
        "rotate_archive_key",
        "rotate_signing_key",
        "pg_dump",
        "migrate",
        "rollout",
        "No Docker engine",
        "METRICS_TOKEN",
    ]:
        assert needed in text, needed
    design = REPO.parent / "shared" / "docs" / "design.md"
    names = [
        "DATABASE_URL",
        "REDIS_URL",
        "STORAGE_URL",
        "INBOX_URL",
        "OUTBOX_URL",
        "BASE_URL",
        "SECRET_KEY",
        "C4GH_SECRET_KEY_FILE",
        "C4GH_PASSPHRASE",
        "VISA_SIGNING_KEY_FILE",
        "TRUSTED_ISSUERS",
        "PLAINTEXT_DOWNLOADS",
        "ACCESSION_PREFIX",
        "S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    if design.is_file():
        names += re.findall(r"^\| `([A-Z0-9_]+)`", design.read_text(), re.M)
    for name in set(names):
        assert f"`{name}`" in text, f"deploy/README.md does not explain {name}"
