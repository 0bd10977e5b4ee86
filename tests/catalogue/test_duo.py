import pytest

from gdi_archive.catalogue.duo import MODIFIER, PERMISSION, TERMS, describe, validate_duo
from gdi_archive.common.errors import InvalidInput


def test_common_terms_are_known_with_their_kind():
    assert TERMS["DUO:0000042"].shorthand == "GRU" and TERMS["DUO:0000042"].kind == PERMISSION
    assert TERMS["DUO:0000006"].kind == PERMISSION
    assert TERMS["DUO:0000007"].label == "disease specific research"
    assert TERMS["DUO:0000046"].shorthand == "NCU" and TERMS["DUO:0000046"].kind == MODIFIER
    assert describe("DUO:0000021") == "IRB (ethics approval required)"


def test_one_permission_and_modifiers_are_accepted_and_cleaned():
    assert validate_duo([" duo:0000006", "DUO:0000046", "DUO:0000021", "DUO:0000046"]) == [
        "DUO:0000006",
        "DUO:0000046",
        "DUO:0000021",
    ]
    assert validate_duo(["DUO:0000046"]) == ["DUO:0000046"]  # modifiers alone are allowed
    assert validate_duo([]) == [] and validate_duo(None) == []


@pytest.mark.parametrize(
    "codes, words",
    [
        (["DUO:0000042", "DUO:0000006"], "at most one data-use permission"),
        (["DUO:9999999"], "Unknown DUO code(s): DUO:9999999"),
        (["GRU"], "Unknown DUO code(s): GRU"),
        (["DUO:0000042", "MONDO:0005015"], "only go with disease specific research"),
        (["MONDO:123"], "Unknown DUO code(s): MONDO:123"),
        ("DUO:0000042", "must be a list"),
        ([42], "must be a list"),
    ],
)
def test_bad_lists_are_refused_with_a_reason(codes, words):
    with pytest.raises(InvalidInput) as refused:
        validate_duo(codes)
    assert words in refused.value.detail


def test_disease_specific_may_name_mondo_diseases():
    assert validate_duo(["DUO:0000007", "mondo:0005015", "DUO:0000021"]) == [
        "DUO:0000007",
        "MONDO:0005015",
        "DUO:0000021",
    ]
