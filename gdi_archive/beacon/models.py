"""What the Beacon answers from: variants (aggregates and carrier bitmaps, never genotypes),
the jobs that load them, and the individuals a steward describes."""

from django.db import models

from gdi_archive.catalogue.models import Dataset, File


class VariantLoad(models.Model):
    """Reading one VCF/BCF of one dataset into Variant rows: the job row, with its progress.

    `samples` is the file's sample ids in column order; a variant's carrier bitmap is over it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        ERROR = "error"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="variant_loads")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="variant_loads")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    assembly = models.CharField(max_length=16, blank=True)
    samples = models.JSONField(default=list, blank=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    records_done = models.BigIntegerField(default=0)
    variants = models.BigIntegerField(default=0)
    # Every run writes its rows under a new generation; answers use `live_generation`, which a
    # run sets only when it finished, so a re-run never shows half a file and a crashed run's
    # rows are simply never live (and are deleted by the next run).
    generation = models.PositiveIntegerField(default=0)
    live_generation = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "file"], name="beacon_one_load_per_dataset_file")]

    def __str__(self):
        return f"{self.dataset_id}/{self.file_id} {self.status}"


class AppendedIndex(models.Index):
    """For a column whose rows are appended together: BRIN on PostgreSQL, a B-tree elsewhere."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Variant(models.Model):
    """One alternate allele at one position of one dataset, with its allele counts.

    `start`/`end` are 0-based, half-open (Beacon v2); `chrom` is normalised (`22`, `X`, `MT`).
    `populations` is {"F": [ac, an], "EE": [ac, an], "EE_F": ...} (ALL is ac/an themselves).
    `carriers` is a bitmap over the load's samples (bit i set: sample i carries the allele).
    """

    id = models.BigAutoField(primary_key=True)
    # No database foreign keys: a load COPYs millions of rows, and a constraint trigger per row
    # per key costs more than the indexes. Rows go only through `loading` (the load and its
    # dataset exist), and go with them: Django's CASCADE deletes them, `forget_dataset` too.
    load = models.ForeignKey(
        VariantLoad, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    generation = models.PositiveIntegerField()
    assembly = models.CharField(max_length=16)
    chrom = models.CharField(max_length=32)
    start = models.BigIntegerField()
    end = models.BigIntegerField()
    ref = models.TextField()
    alt = models.TextField()
    variant_type = models.CharField(max_length=8)
    ac = models.IntegerField()
    an = models.IntegerField()
    af = models.FloatField()
    populations = models.JSONField(default=dict)
    carriers = models.BinaryField()

    class Meta:
        indexes = [
            # Dataset first: a load appends each dataset's rows in position order, so the B-tree
            # grows at a few points instead of everywhere (a COPY of millions of rows stays in
            # cache); a query looks up each released dataset in turn (dataset_id = ANY).
            models.Index(fields=["dataset", "chrom", "start"], name="beacon_variant_dataset_pos"),
            # A load's rows are appended together: a BRIN range index finds them for the deletes
            # at a fraction of a B-tree's cost per row.
            AppendedIndex(fields=["load"], name="beacon_variant_load_brin"),
        ]


class Individual(models.Model):
    """A person of a dataset as the steward described them (Beacon individual, checked).

    `terms` holds every ontology id of the record (sex, diseases, phenotypes, country) for
    filtering; `onset_days` the diseases' ages of onset in days, for PATO:0000011 filters.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="beacon_individuals")
    individual_id = models.CharField(max_length=200)
    sex = models.CharField(max_length=1, blank=True)  # F, M or "" (unknown)
    country = models.CharField(max_length=2, blank=True)  # ISO 3166-1 alpha-2
    terms = models.JSONField(default=list)
    onset_days = models.JSONField(default=list)
    record = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "individual_id"], name="beacon_unique_individual")]
        ordering = ["dataset", "individual_id"]

    def __str__(self):
        return self.individual_id
