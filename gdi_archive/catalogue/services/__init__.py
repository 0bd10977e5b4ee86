"""Stewardship: the only write path for DACs and datasets (API, admin and commands call these).

Only stewards (the `stewards` group) and superusers may change the catalogue. Decisions:
- Files go into a dataset only while it is a draft. Once released, a DAC has approved access to
  exactly that content; adding files later would widen every existing grant without a decision.
  Make a new dataset instead. Withdrawn is final: a withdrawn dataset is not released again.
- Only ready data files with an accession go in; their indexes follow them (an index has no
  accession of its own). A file may belong to several datasets.
- A DAC member is made staff so that the admin opens for them; they lose staff when they leave
  their last DAC, unless they are a steward.

Callers use `services.<function>`; the functions live by what they change: `dacs` (a DAC and
its members), `datasets` (a dataset's description), `metadata` (its FAIR Data Point record),
`files` (what goes into a draft) and `releases` (release and withdrawal), with what several
share in `shared`.
"""

from .dacs import (
    add_dac_member,
    clean_required_documents,
    create_dac,
    remove_dac_member,
    require_operator_or_member,
    require_steward_or_member,
    update_dac,
)
from .datasets import MAX_ACCESS_DAYS_LIMIT, clean_dataset_fields, create_dataset, patch_dataset, update_dataset
from .files import add_files_to_dataset, find_ready_files
from .metadata import METADATA_AGENTS, METADATA_IRI_LISTS, METADATA_KEYS, clean_metadata
from .releases import release_dataset, withdraw_dataset
from .shared import require_steward

__all__ = [
    "MAX_ACCESS_DAYS_LIMIT",
    "METADATA_AGENTS",
    "METADATA_IRI_LISTS",
    "METADATA_KEYS",
    "add_dac_member",
    "add_files_to_dataset",
    "clean_dataset_fields",
    "clean_metadata",
    "clean_required_documents",
    "create_dac",
    "create_dataset",
    "find_ready_files",
    "patch_dataset",
    "release_dataset",
    "remove_dac_member",
    "require_operator_or_member",
    "require_steward",
    "require_steward_or_member",
    "update_dac",
    "update_dataset",
    "withdraw_dataset",
]
