"""Seams for the parts of the archive that build on the catalogue (the FAIR Data Point, the
Beacon): they listen here instead of the catalogue importing them, so imports run one way.

- `release_checks` is sent inside the release transaction, before the dataset is marked
  released; a receiver that finds the dataset not fit for release raises an `ArchiveError`
  (e.g. incomplete metadata), which refuses the release and changes nothing.
- The others are sent after the change has committed (never for a change that rolled back):
  `file_ready(file)` when ingestion archived a file, `dataset_released(dataset)`,
  `dataset_withdrawn(dataset)`, `dataset_changed(dataset)` when its description changed.
"""

from django.dispatch import Signal

release_checks = Signal()
file_ready = Signal()
dataset_released = Signal()
dataset_withdrawn = Signal()
dataset_changed = Signal()
