"""Ingest-only state: who is working on a file, which attempt, and when it last showed life.

The catalogue's File says what a submitter sees (status, progress, error); this says how the
work is shared among workers. `attempt` is a fencing token: every write a run makes is
conditional on its attempt still being the current one, so a run that was presumed dead (and
replaced) can never overwrite the newer run's results.
"""

from django.db import models

from gdi_archive.catalogue.models import File


class IngestJob(models.Model):
    file = models.OneToOneField(File, on_delete=models.CASCADE, related_name="ingest_job")
    attempt = models.PositiveIntegerField(default=0, help_text="Bumped by every claim, restart or replacement.")
    worker = models.CharField(max_length=255, blank=True, help_text="Celery node (or process) running the attempt.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    archive_key = models.CharField(
        max_length=512,
        blank=True,
        help_text="Archive object the current attempt writes; removed if the attempt does not finish.",
    )
    transient_failures = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When the ingest task was last queued.")
    received = models.JSONField(
        null=True,
        blank=True,
        help_text="What the upload's own pass verified (header, every MAC, checksums) while it was received, "
        "for the inbox object it names; the run then only copies the body, checking its sha256 against this.",
    )

    class Meta:
        verbose_name = "ingest job"

    def __str__(self):
        return f"ingest of file {self.file_id}, attempt {self.attempt}"
