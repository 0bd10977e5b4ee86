"""Ranged GETs of S3 objects on presigned URLs, through a plain urllib3 pool.

A `get_object` call costs about 1.5-2 ms of CPU in botocore (event hooks, request building,
signing, response parsing, the retry handler) whatever the size: most of an htsget ticket or a
4 KiB range download. Here botocore still signs (so every credential provider keeps working:
keys, session tokens, IRSA) but once per object key: a query-string signature covers only the
host, so one URL serves any Range. It lives PRESIGN_EXPIRES and is reused for at most
PRESIGN_REUSE, well inside botocore's own refresh window for expiring credentials; a 403 on a
reused URL is retried once on a fresh one.

The URL is a credential: it is never logged, never put into an exception (urllib3 errors are
replaced by botocore's, named after the endpoint only, and not chained), and the urllib3 pool
logger redacts any request line that carries one.
"""

import io
import logging
import os
import random
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)
from botocore.httpsession import create_urllib3_context, get_cert_path
from botocore.utils import get_environ_proxies
from urllib3.exceptions import HTTPError as Urllib3HTTPError

log = logging.getLogger(__name__)

PRESIGN_EXPIRES = 15 * 60
PRESIGN_REUSE = 5 * 60
PRESIGN_CACHE = 1024  # keys per store and process
PRELOAD_LIMIT = 1024 * 1024  # ranges up to this are read whole inside the request
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_MAX_BACKOFF = 20.0  # botocore's standard retry mode


class _Redact(logging.Filter):
    """urllib3 logs request lines (DEBUG) and retries (WARNING) with the target: not for ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "X-Amz-Signature" in str(record.msg) or any("X-Amz-Signature" in str(a) for a in record.args or ()):
            record.msg, record.args = "a request on a presigned URL (not logged: it is a credential)", ()
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_Redact())


def proxied(url: str) -> bool:
    """Whether botocore would send requests for `url` through a proxy (we then leave it to botocore)."""
    return bool(get_environ_proxies(url))


def verify_value(core_session) -> bool | str:
    """The certificate bundle botocore's client uses: ca_bundle (AWS_CA_BUNDLE, config file),
    else REQUESTS_CA_BUNDLE, else the bundled roots (botocore.endpoint's own order)."""
    configured = core_session.get_config_variable("ca_bundle")
    return configured if configured is not None else os.environ.get("REQUESTS_CA_BUNDLE", True)


class _Body:
    """A streamed urllib3 response: read(n) with botocore's errors, close() that frees the slot."""

    def __init__(self, response, endpoint: str):
        self._response = response
        self._endpoint = endpoint

    def read(self, n: int = -1) -> bytes:
        try:
            return self._response.read(None if n is None or n < 0 else n)
        except Urllib3HTTPError as exc:
            error = exc
        # Not chained: urllib3's exception may name the request target (the presigned query).
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise ReadTimeoutError(endpoint_url=self._endpoint) from None
        raise ResponseStreamingError(error=error.__class__.__name__) from None

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


class PresignedReads:
    """Ranged GETs of one store's objects; thread-safe, per process (a fork starts afresh)."""

    def __init__(
        self,
        client,
        bucket: str,
        endpoint: str,
        *,
        verify: bool | str,
        max_attempts: int,
        connect_timeout: float,
        read_timeout: float,
    ):
        self._client = client
        self._bucket = bucket
        self._endpoint = endpoint
        self._max_attempts = max(1, max_attempts)
        self._pool_kwargs = {
            "timeout": urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            "retries": False,  # our loop below: urllib3's logs the target on every retry
            "maxsize": 10,  # botocore's max_pool_connections
            "ssl_context": create_urllib3_context(),
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": get_cert_path(verify) if verify is not False else None,
        }
        if verify is False:
            self._pool_kwargs["cert_reqs"] = "CERT_NONE"
        self._lock = threading.Lock()
        self._urls: OrderedDict[str, tuple[float, str, str, int | None, str]] = OrderedDict()
        self._pid = -1
        self._http: urllib3.PoolManager | None = None

    def _manager(self) -> urllib3.PoolManager:
        if self._pid != os.getpid():  # connections must not be shared across a fork
            with self._lock:
                if self._pid != os.getpid():
                    self._http = urllib3.PoolManager(**self._pool_kwargs)
                    self._urls.clear()
                    self._pid = os.getpid()
        return self._http

    def _signed(self, full_key: str, fresh: bool) -> tuple[tuple[str, str, int | None, str], bool]:
        """((scheme, host, port, target), reused) of a presigned GET for `full_key`."""
        now = time.monotonic()
        with self._lock:
            cached = None if fresh else self._urls.get(full_key)
            if cached is not None and now - cached[0] < PRESIGN_REUSE:
                self._urls.move_to_end(full_key)
                return cached[1:], True
        url = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": full_key}, ExpiresIn=PRESIGN_EXPIRES
        )
        parts = urlsplit(url)
        entry = (parts.scheme, parts.hostname, parts.port, f"{parts.path}?{parts.query}")
        with self._lock:
            self._urls[full_key] = (now, *entry)
            self._urls.move_to_end(full_key)
            while len(self._urls) > PRESIGN_CACHE:
                self._urls.popitem(last=False)
        return entry, False

    def get(self, full_key: str, start: int, end: int | None, etag: str | None):
        """(status, headers, body) of a ranged GET: body is a file-like object for a 206, the
        error document for an error. Network failures raise botocore's exceptions, after
        max_attempts tries (like 5xx answers), with botocore's standard backoff."""
        headers = {"Range": f"bytes={start}-" + ("" if end is None else str(end - 1))}
        if etag:
            headers["If-Match"] = etag
        preload = end is not None and end - start <= PRELOAD_LIMIT
        manager = self._manager()
        attempt, fresh = 1, False
        while True:
            (scheme, host, port, target), reused = self._signed(full_key, fresh)
            error = None
            try:
                pool = manager.connection_from_host(host, port, scheme)
                response = pool.urlopen(
                    "GET", target, headers=headers, redirect=False, preload_content=preload, decode_content=False
                )
            except Urllib3HTTPError as exc:
                error = self._network_error(exc)
            if error is None:
                status = response.status
                if status == 403 and reused:
                    response.drain_conn()
                    fresh = True  # the credentials may have changed since this URL was signed
                    continue
                if status not in _RETRY_STATUS or attempt >= self._max_attempts:
                    if status == 206:
                        body = io.BytesIO(response.data) if preload else _Body(response, self._endpoint)
                        return status, response.headers, body
                    if 200 <= status < 300:  # the Range was ignored: do not read the whole object
                        _Body(response, self._endpoint).close()
                        return status, response.headers, b""
                    return status, response.headers, response.data
                response.drain_conn()
            elif attempt >= self._max_attempts:
                raise error  # not chained to urllib3's exception (see the module docstring)
            time.sleep(random.random() * min(_MAX_BACKOFF, 2 ** (attempt - 1)))
            attempt += 1

    def _network_error(self, exc: Exception) -> Exception:
        """botocore's exception for a urllib3 failure (what get_object raised, so the messages
        stay the same), naming the endpoint only."""
        reason = getattr(exc, "reason", None) or exc
        endpoint = self._endpoint
        if isinstance(reason, urllib3.exceptions.SSLError):
            return SSLError(endpoint_url=endpoint, error=reason.__class__.__name__)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return EndpointConnectionError(endpoint_url=endpoint)
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
            return ConnectTimeoutError(endpoint_url=endpoint)
        if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
            return ReadTimeoutError(endpoint_url=endpoint)
        if isinstance(reason, urllib3.exceptions.ProtocolError):
            return ConnectionClosedError(endpoint_url=endpoint)
        return HTTPClientError(error=reason.__class__.__name__)


def client_error(status: int, body: bytes) -> ClientError:
    """The ClientError botocore would have raised for an S3 error answer (code from its XML,
    else the status, as botocore's parser does), without the request's URL."""
    code, message = str(status), ""
    try:
        root = ElementTree.fromstring(body) if body else None
    except ElementTree.ParseError:
        root = None
    if root is not None and root.tag == "Error":
        code = root.findtext("Code") or code
        message = root.findtext("Message") or ""
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )
