import time

from django.core.management.base import BaseCommand, CommandError

from gdi_archive.catalogue.integrity import archived_files, verify_archive


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


class Command(BaseCommand):
    help = (
        "Check every archived file: the stored body (size and sha-256), the header (opens with an archive key) "
        "and, unless --quick, the plaintext checksums (decrypts every segment). Exits 1 on any mismatch; safe "
        "to run on a schedule (read-only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", metavar="FILE", help="Only these file accessions (default: all)")
        parser.add_argument("--quick", action="store_true", help="Skip decryption: check the body and header only")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, cron)")

    def handle(self, *args, **options):
        quick, accessions = options["quick"], options["files"] or None
        files = list(archived_files(accessions))
        total_files = len(files)
        total_bytes = sum(f.stored_size or 0 for f in files)
        show = not options["no_progress"]
        tty = show and hasattr(self.stderr, "isatty") and self.stderr.isatty()
        state = {"files": 0, "bytes": 0, "drawn": 0.0}
        started = time.monotonic()

        def draw(force: bool = False) -> None:
            if not show:
                return
            now = time.monotonic()
            if not force and now - state["drawn"] < (0.2 if tty else 5.0):
                return
            state["drawn"] = now
            fraction = (
                state["bytes"] / total_bytes if total_bytes else (state["files"] / total_files if total_files else 1)
            )
            fraction = min(fraction, 1.0)
            bar = "#" * int(fraction * 30)
            line = (
                f"[{bar:<30}] {fraction:4.0%}  {state['files']}/{total_files} files  "
                f"{_size(state['bytes'])}/{_size(total_bytes)}"
            )
            self.stderr.write(("\r" + line) if tty else line, ending="")
            if not tty:
                self.stderr.write("")

        def on_bytes(n: int) -> None:
            state["bytes"] += n
            draw()

        def on_file(file, problems) -> None:
            state["files"] += 1
            for problem in problems:
                if tty:
                    self.stderr.write("")
                self.stdout.write(f"MISMATCH {problem}")
            draw(force=state["files"] == total_files)

        report = verify_archive(quick=quick, accessions=accessions, on_file=on_file, on_bytes=on_bytes)
        if tty:
            self.stderr.write("")
        for problem in report.problems:
            if problem.kind == "not-archived":
                self.stdout.write(f"MISMATCH {problem}")
        seconds = time.monotonic() - started
        mode = "quick (body and header)" if quick else "full (body, header and plaintext checksums)"
        bad = len({p.file for p in report.problems if p.kind != "not-archived"})
        self.stdout.write(
            f"Checked {report.checked} archived file(s), {_size(report.bytes_read)} read in {seconds:.1f} s, {mode}: "
            f"{report.checked - bad} ok, {report.failed_files} with problems."
        )
        if not report.ok:
            raise CommandError(f"{report.failed_files} file(s) failed verification; see the MISMATCH lines above.")
        if total_files == 0:
            self.stdout.write("There are no archived files yet.")
