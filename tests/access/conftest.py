import pytest

from .factories import released_dataset


@pytest.fixture
def dataset(dac):
    return released_dataset(dac)


@pytest.fixture
def dataset2(dac):
    return released_dataset(dac, title="Rare disease genomes", max_access_days=30)


@pytest.fixture
def other_dataset(other_dac):
    return released_dataset(other_dac, title="Tumour genomes")
