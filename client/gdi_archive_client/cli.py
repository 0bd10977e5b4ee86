"""`gdi-archive`: the archive from a terminal or a script (the commands themselves are in `commands`)."""

import argparse
import sys

from . import __version__, commands
from .api import ClientError

EXAMPLES = {
    "login": """\
  gdi-archive login --url https://archive.example.org
      paste the token from the archive's "Access tokens" page when asked
  gdi-archive login --url https://archive.example.org --device \\
      --issuer https://login.elixir-czech.org/oidc/ --client-id ID
      sign in at your identity provider instead (OIDC device flow)""",
    "datasets": """\
  gdi-archive datasets
  gdi-archive datasets --json""",
    "inbox": """\
  gdi-archive inbox
      your uploads: checked so far, size, accession once archived, or why it failed""",
    "files": """\
  gdi-archive files GDID00000000001
  gdi-archive files GDID00000000001 --json""",
    "download": """\
  gdi-archive download GDIF00000000001 -o sample.bam --decrypt --sk ~/.c4gh/me.sec
      one file, decrypted as it arrives and checked against the catalogue's sha256
  gdi-archive download GDIF00000000001 --parallel 8 --limit-rate 20M
      a Crypt4GH file for your registered key (GDIF00000000001.c4gh)
  gdi-archive download GDID00000000001 -o cohort/ --decrypt --sk ~/.c4gh/me.sec
      every file of a dataset you may read, into the folder cohort/
Ctrl-C stops at once and keeps what arrived (OUT.part); run the same command again to resume.""",
    "htsget": """\
  gdi-archive htsget GDIF00000000001 --region chr1:100000-200000 -o region.bam --sk ~/.c4gh/me.sec
  gdi-archive htsget GDIF00000000002 --region chr20 --type variants -o chr20.vcf.gz --sk ~/.c4gh/me.sec""",
    "keygen": """\
  gdi-archive keygen --sk ~/.c4gh/me.sec --pk ~/.c4gh/me.pub
      then register me.pub on the archive's Keys page (or pass --pk to download)""",
    "encrypt": """\
  gdi-archive encrypt sample.bam --archive
      to the archive's key, for an upload (writes sample.bam.c4gh)
  gdi-archive encrypt notes.txt -o notes.c4gh --recipient-pk colleague.pub""",
    "upload": """\
  gdi-archive upload sample.bam.c4gh
  gdi-archive upload sample.bam.c4gh --sha256 SHA256_OF_THE_PLAINTEXT --part-size 256M
      an interrupted upload resumes when you run the same command again""",
}


def _examples(command: str) -> str:
    return "examples:\n" + EXAMPLES[command]


def _command(sub, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its examples."""
    return sub.add_parser(
        name,
        help=text,
        description=text[0].upper() + text[1:] + ".",
        epilog=_examples(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gdi-archive",
        description="Work with a gdi-archive from the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        + "\n".join(EXAMPLES[name].splitlines()[0] for name in ("login", "datasets", "files", "download", "upload"))
        + "\n\n`gdi-archive COMMAND --help` shows each command's options and more examples.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _command(sub, "login", "store a token for the archive")
    p.add_argument("--url", help="the archive, e.g. https://archive.example.org")
    p.add_argument("--token", help="the token (prompted for if not given; avoid putting it in shell history)")
    p.add_argument("--username", help="mint a token with a local account's password instead (scripts)")
    p.add_argument("--device", action="store_true", help="sign in at the identity provider with the OIDC device flow")
    p.add_argument("--issuer", help="with --device: the identity provider (or GDI_ARCHIVE_OIDC_ISSUER)")
    p.add_argument("--client-id", help="with --device: the client id registered there (or GDI_ARCHIVE_OIDC_CLIENT_ID)")
    p.add_argument("--scope", default="openid ga4gh_passport_v1", help="with --device: scopes to ask for")
    p.set_defaults(func=commands.cmd_login)

    for name, func, text in (
        ("datasets", commands.cmd_datasets, "datasets you may read"),
        ("inbox", commands.cmd_inbox, "your uploads and their ingestion"),
    ):
        p = _command(sub, name, text)
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)

    p = _command(sub, "files", "files of a dataset")
    p.add_argument("dataset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.cmd_files)

    def key_options(p):
        p.add_argument("--sk", help="your Crypt4GH secret key (passphrase from C4GH_PASSPHRASE or a prompt)")
        p.add_argument(
            "--pk", help="your Crypt4GH public key (default: derived from --sk, else the key registered on the web)"
        )

    p = _command(sub, "download", "download a file or a whole dataset (parallel, resumable)")
    p.add_argument("accession", help="a file (GDIF...) or a dataset (GDID...) you may read")
    p.add_argument("-o", "--output", help="the file to write; for a dataset, the folder (default: its accession)")
    p.add_argument("--decrypt", action="store_true", help="write the plaintext (needs --sk)")
    p.add_argument("--parallel", type=int, default=4, help="parallel range requests (default 4)")
    p.add_argument("--no-verify", action="store_true", help="skip the sha256 check")
    p.add_argument("--limit-rate", help="at most this many bytes per second, e.g. 500K or 2M")
    p.add_argument("--json", action="store_true")
    key_options(p)
    p.set_defaults(func=commands.cmd_download)

    p = _command(sub, "htsget", "a genomic region to a local file")
    p.add_argument("accession")
    p.add_argument("--region", help="CHROM:START-END (1-based, inclusive)")
    p.add_argument("--type", choices=["reads", "variants"], help="default: from the file's format")
    p.add_argument("-o", "--output", required=True)
    key_options(p)
    p.set_defaults(func=commands.cmd_htsget)

    p = _command(sub, "keygen", "make a Crypt4GH key pair")
    p.add_argument("--sk", required=True)
    p.add_argument("--pk", required=True)
    p.add_argument("--comment", default="gdi-archive")
    p.set_defaults(func=commands.cmd_keygen)

    p = _command(sub, "encrypt", "encrypt a file with Crypt4GH")
    p.add_argument("file")
    p.add_argument("-o", "--output")
    p.add_argument("--archive", action="store_true", help="to the archive's public key (for uploads)")
    p.add_argument("--recipient-pk", help="to this public key")
    p.set_defaults(func=commands.cmd_encrypt)

    p = _command(sub, "upload", "upload a Crypt4GH file to your inbox")
    p.add_argument("file")
    p.add_argument("--name", help="name in the inbox (default: the file's name)")
    p.add_argument("--sha256", help="the plaintext's sha256, checked by ingestion")
    p.add_argument(
        "--part-size",
        default="64M",
        help="send the file in parts of this size (e.g. 64M); an "
        "interrupted upload resumes at the last whole part, also when the command is run again",
    )
    p.add_argument("--retries", type=int, default=5, help="tries in a row after a broken connection (each resumes)")
    p.add_argument("--limit-rate", help="at most this many bytes per second, e.g. 500K or 2M")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.cmd_upload)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ClientError as exc:
        print(f"gdi-archive: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        message = str(exc) or "interrupted; run the same command again to resume a download"
        print(f"\ngdi-archive: {message}", file=sys.stderr)
        return 130
