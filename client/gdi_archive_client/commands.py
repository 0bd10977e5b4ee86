"""What each `gdi-archive` command does; `cli` parses the command line and calls one of these."""

import base64
import getpass
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from . import c4gh, transfer, uploads
from .api import Archive, ClientError, explain, save_login
from .progress import human_size


def _print_table(rows: list[dict], columns: dict[str, str], formats: dict | None = None) -> None:
    """Rows under readable headings (`columns` maps a field to its heading); `formats` turns a
    field's value into text (sizes in KB/MB/GB, yes/no)."""
    if not rows:
        print("(none)")
        return
    formats = formats or {}

    def cell(row: dict, field: str) -> str:
        value = row.get(field, "")
        if value is None or value == "":
            return ""
        return formats[field](value) if field in formats else str(value)

    cells = [[cell(row, field) for field in columns] for row in rows]
    widths = [max(len(heading), *(len(line[i]) for line in cells)) for i, heading in enumerate(columns.values())]
    print("  ".join(heading.ljust(width) for heading, width in zip(columns.values(), widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())


def _yes_no(value) -> str:
    return "yes" if value else "no"


def cmd_login(args) -> int:
    url = (args.url or os.environ.get("GDI_ARCHIVE_URL") or "").rstrip("/")
    if not url:
        url = input("Archive URL (e.g. https://archive.example.org): ").strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ClientError("The URL must start with https://")
    if args.device:
        token = device_flow(
            issuer=args.issuer or os.environ.get("GDI_ARCHIVE_OIDC_ISSUER"),
            client_id=args.client_id or os.environ.get("GDI_ARCHIVE_OIDC_CLIENT_ID"),
            scope=args.scope,
        )
    elif args.username:
        password = os.environ.get("GDI_ARCHIVE_PASSWORD") or getpass.getpass(f"Password for {args.username}: ")
        try:
            response = requests.post(f"{url}/api/tokens", json={}, auth=(args.username, password), timeout=30)
        except requests.ConnectionError:
            raise ClientError(f"Cannot reach {url}") from None
        if response.status_code != 201:
            raise ClientError(explain(response))
        token = response.json()["token"]
    else:
        token = args.token or getpass.getpass("Paste the token from the archive's Access tokens page: ")
    token = token.strip()
    if not token:
        raise ClientError("No token given")
    # Check it before keeping it.
    Archive(url=url, token=token).json("GET", "/api/datasets")
    path = save_login(url, token)
    print(f"Logged in to {url}; token stored in {path}")
    return 0


def device_flow(*, issuer: str | None, client_id: str | None, scope: str) -> str:
    """OAuth 2.0 device authorization (RFC 8628) at the identity provider the archive trusts:
    the person approves in a browser, we poll for the access token."""
    if not issuer or not client_id:
        raise ClientError("--device needs --issuer and --client-id (ask the archive's operator which to use)")
    try:
        config = requests.get(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=30).json()
        device_endpoint, token_endpoint = config["device_authorization_endpoint"], config["token_endpoint"]
    except (requests.RequestException, ValueError, KeyError):
        raise ClientError(f"{issuer} does not offer the device flow (no device_authorization_endpoint)") from None
    answer = requests.post(device_endpoint, data={"client_id": client_id, "scope": scope}, timeout=30)
    if answer.status_code != 200:
        raise ClientError(f"The identity provider refused to start: {explain(answer)}")
    grant = answer.json()
    where = grant.get("verification_uri_complete") or grant["verification_uri"]
    print(f"Open {where} in a browser and enter the code {grant['user_code']}", file=sys.stderr, flush=True)
    interval = max(1, int(grant.get("interval", 5)))
    deadline = time.monotonic() + int(grant.get("expires_in", 600))
    while time.monotonic() < deadline:
        time.sleep(interval)
        reply = requests.post(
            token_endpoint,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": grant["device_code"],
                "client_id": client_id,
            },
            timeout=30,
        )
        body = reply.json() if reply.headers.get("Content-Type", "").startswith("application/json") else {}
        if reply.status_code == 200 and body.get("access_token"):
            return body["access_token"]
        error = body.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5
            continue
        raise ClientError(
            f"Sign-in did not complete: {error or reply.status_code} {body.get('error_description', '')}".strip()
        )
    raise ClientError("The code expired before sign-in completed; run `gdi-archive login --device` again.")


def cmd_datasets(args) -> int:
    rows = Archive().listing("/api/datasets")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(
            rows,
            {"accession": "Dataset", "title": "Title", "file_count": "Files", "size": "Size"},
            {"size": human_size},
        )
    return 0


def cmd_files(args) -> int:
    archive = Archive()
    rows = archive.json("GET", archive.path("api", "datasets", args.dataset, "files").removeprefix(archive.url))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(
            rows,
            {
                "accession": "File",
                "name": "Name",
                "size": "Size",
                "format": "Format",
                "has_index": "Index",
                "sha256": "SHA-256 (plaintext)",
            },
            {"size": human_size, "has_index": _yes_no},
        )
    return 0


def _keys(args) -> tuple[bytes | None, bytes | None]:
    """(secret, public) from --sk/--pk; public alone from --pk; neither means the registered key."""
    if args.sk:
        return c4gh.key_for_sk(args.sk, args.pk)
    if args.pk:
        return None, c4gh.load_public_key(args.pk)
    return None, None


def cmd_download(args) -> int:
    if args.decrypt and not args.sk:
        raise ClientError("--decrypt needs your secret key: --sk PATH")
    secret, public = _keys(args)
    archive = Archive()
    options = {
        "parallel": args.parallel,
        "public": public,
        "secret": secret,
        "decrypt": args.decrypt,
        "verify": not args.no_verify,
        "limit_rate": transfer.parse_rate(args.limit_rate),
    }
    if any(dataset.get("accession") == args.accession for dataset in archive.json("GET", "/api/datasets")):
        return _download_dataset(archive, args, options)
    out = Path(args.output or (args.accession + ("" if args.decrypt else ".c4gh")))
    result = transfer.download(archive, args.accession, out, **options)
    if args.json:
        print(json.dumps({**result, "output": str(out)}))
    else:
        print(_downloaded(args.accession, out, result))
    return 0


def _downloaded(accession: str, out: Path, result: dict) -> str:
    """One line for a finished file: where it went, its size, resumed or not, the checksum."""
    note = ", resumed" if result["resumed_from"] else ""
    check = (
        ", sha256 verified"
        if result.get("verified")
        else (", sha256 " + result["sha256"] if result.get("sha256") else "")
    )
    size = result.get("size", result["bytes"])
    return f"{accession} -> {out} ({human_size(size)}{note}{check})"


def _download_dataset(archive: Archive, args, options: dict) -> int:
    """Every file of the dataset the user may read, into one folder, each resumable on its own:
    after an interruption the same command skips the files already there and resumes the one it
    was fetching."""
    files = archive.json("GET", archive.path("api", "datasets", args.accession, "files").removeprefix(archive.url))
    folder = Path(args.output or args.accession)
    folder.mkdir(parents=True, exist_ok=True)
    targets = _dataset_targets(files, folder, decrypt=options["decrypt"])
    total = sum(entry.get("size") or 0 for entry in files)
    if not args.json:
        print(f"{args.accession}: {len(files)} files, {human_size(total)} -> {folder}/", file=sys.stderr)
    results = []
    for number, (entry, out) in enumerate(targets, 1):
        accession = entry["accession"]
        if _already_there(out, entry, decrypt=options["decrypt"]):
            results.append({"accession": accession, "output": str(out), "skipped": True})
            if not args.json:
                print(f"[{number}/{len(targets)}] {accession} -> {out} (already there)")
            continue
        if not args.json:
            print(
                f"[{number}/{len(targets)}] {entry.get('name', accession)} ({human_size(entry.get('size'))})",
                file=sys.stderr,
            )
        result = transfer.download(archive, accession, out, **options)
        results.append({**result, "output": str(out)})
        if not args.json:
            print(f"[{number}/{len(targets)}] {_downloaded(accession, out, result)}")
    if args.json:
        print(json.dumps({"dataset": args.accession, "output": str(folder), "files": results}))
    return 0


def _dataset_targets(files: list[dict], folder: Path, *, decrypt: bool) -> list[tuple[dict, Path]]:
    """Where each file goes: its catalogue name (never a path: only the last component, and the
    accession if that is empty, hidden or taken twice), with .c4gh unless decrypted."""
    targets, taken = [], set()
    for entry in files:
        name = Path(str(entry.get("name") or "")).name
        if not name or name.startswith(".") or name in taken:
            name = f"{entry['accession']}-{name.lstrip('.')}" if name.strip(".") else entry["accession"]
        taken.add(name)
        targets.append((entry, folder / (name if decrypt else name + ".c4gh")))
    return targets


def _already_there(out: Path, entry: dict, *, decrypt: bool) -> bool:
    """A finished download: renamed into place only after it was complete (and checked), so the
    file exists and no part file is left next to it; decrypted, its size is the catalogue's too."""
    if not out.is_file() or out.with_name(out.name + ".part.json").exists():
        return False
    return not decrypt or entry.get("size") is None or out.stat().st_size == entry["size"]


def _parse_region(region: str) -> dict:
    match = re.fullmatch(r"([^:]+)(?::(\d[\d,]*)?(?:-(\d[\d,]*))?)?", region)
    if not match:
        raise ClientError("--region is CHROM, CHROM:START or CHROM:START-END (1-based, inclusive, like samtools)")
    params = {"referenceName": match.group(1)}
    if match.group(2):
        params["start"] = int(match.group(2).replace(",", "")) - 1  # htsget is 0-based, half-open
    if match.group(3):
        params["end"] = int(match.group(3).replace(",", ""))
    return params


def cmd_htsget(args) -> int:
    secret, public = _keys(args)
    archive = Archive()
    kind = args.type
    if kind is None:
        entry = archive.find_file(args.accession) or {}
        kind = "variants" if str(entry.get("format", "")).upper() in ("VCF", "BCF") else "reads"
    params = {"encryptionScheme": "C4GH"}
    if args.region:
        params.update(_parse_region(args.region))
    headers = {"X-C4GH-Public-Key": c4gh.header_value(public)} if public else {}
    ticket = archive.json(
        "GET", archive.path("htsget", kind, args.accession).removeprefix(archive.url), params=params, headers=headers
    )
    origin = urlsplit(archive.url)
    out = Path(args.output)
    encrypted = out.with_name(out.name + ".c4gh.tmp")
    with open(encrypted, "wb") as target:
        for item in ticket["htsget"]["urls"]:
            url = item["url"]
            if url.startswith("data:"):
                target.write(base64.b64decode(url.split(",", 1)[1]))
                continue
            same_site = urlsplit(url)[:2] == origin[:2]
            session = archive.session if same_site else requests.Session()  # never send our token elsewhere
            try:
                response = session.get(url, headers=item.get("headers", {}), stream=True, timeout=(10, 300))
            except requests.RequestException as exc:
                raise ClientError(
                    f"Cannot fetch a block of the ticket from {urlsplit(url).netloc}: {exc.__class__.__name__}"
                ) from None
            if response.status_code not in (200, 206):
                raise ClientError(explain(response))
            for chunk in response.iter_content(transfer.CHUNK):
                target.write(chunk)
    if secret is not None:
        with open(encrypted, "rb") as source, open(out, "wb") as target:
            c4gh.decrypt_stream(secret, source, target)
        encrypted.unlink()
    else:
        os.replace(encrypted, out)
    print(
        f"{args.accession} {args.region or ''} -> {out}"
        + ("" if secret is not None else " (Crypt4GH; decrypt with your key)")
    )
    return 0


def cmd_keygen(args) -> int:
    passphrase = os.environ.get("C4GH_PASSPHRASE")
    if passphrase is None:
        passphrase = getpass.getpass("Passphrase for the new key: ")
        if passphrase != getpass.getpass("Again: "):
            raise ClientError("The passphrases differ")
    if not passphrase:
        raise ClientError("Give the key a passphrase (C4GH_PASSPHRASE or at the prompt)")
    c4gh.generate(args.sk, args.pk, passphrase, args.comment)
    print(
        f"Secret key: {args.sk} (keep it to yourself)\nPublic key: {args.pk} (register it on the archive's Keys page)"
    )
    return 0


def cmd_encrypt(args) -> int:
    if args.archive:
        recipient = c4gh.public_key_from_text(Archive(need_token=False).request("GET", "/api/archive-key").text)
    elif args.recipient_pk:
        recipient = c4gh.load_public_key(args.recipient_pk)
    else:
        raise ClientError("Encrypt to whom? --archive (the archive's key) or --recipient-pk PATH")
    out = Path(args.output or args.file + ".c4gh")
    tmp = out.with_name(out.name + ".tmp")
    digest = hashlib.sha256()
    with open(args.file, "rb") as source, open(tmp, "wb") as target:

        class Hashing:
            def read(self, n=-1):
                data = source.read(n)
                digest.update(data)
                return data

            def readinto(self, buffer):
                n = source.readinto(buffer)
                digest.update(memoryview(buffer)[:n])
                return n

        c4gh.encrypt_stream(recipient, Hashing(), target)
    os.replace(tmp, out)
    print(f"{args.file} -> {out} (plaintext sha256 {digest.hexdigest()})")
    return 0


def cmd_upload(args) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise ClientError(f"No file at {path}")
    if not c4gh.is_crypt4gh(str(path)):
        raise ClientError(f"{path} is not a Crypt4GH file; encrypt it first: gdi-archive encrypt {path} --archive")
    archive = Archive()
    part_size = transfer.parse_rate(args.part_size, "--part-size")
    if part_size < 64 * 1024:
        raise ClientError("--part-size must be at least 64K.")
    entry = uploads.upload(
        archive,
        path,
        args.name or path.name,
        retries=args.retries,
        sha256=args.sha256,
        part_size=part_size,
        limit_rate=transfer.parse_rate(args.limit_rate),
    )
    if args.json:
        print(json.dumps(entry))
    else:
        print(f"uploaded {entry.get('name')} ({entry.get('status')}); follow it with `gdi-archive inbox`")
    return 0


def cmd_inbox(args) -> int:
    rows = Archive().listing("/api/inbox")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(
            rows,
            {
                "name": "Name",
                "status": "Status",
                "bytes_done": "Checked",
                "bytes_total": "Size",
                "accession": "Accession",
                "error": "Error",
            },
            {"bytes_done": human_size, "bytes_total": human_size},
        )
    return 0
