"""Crypt4GH for the archive: keys, headers, segment arithmetic and streaming (no Django here)."""

from .errors import (
    Crypt4GHError,
    InvalidKey,
    NotCrypt4GH,
    NotForOurKey,
    RangeNotSatisfiable,
    SegmentAuthenticationError,
    TruncatedFile,
    UnsupportedHeader,
)
from .header import OpenedHeader, build_header, open_header, read_header, reencrypt_header
from .keys import format_public_key, generate_keypair, key_id, load_secret_key, parse_public_key, public_from_secret
from .segments import (
    CIPHER_SEGMENT_SIZE,
    EMPTY_EDIT_LIST,
    SEGMENT_SIZE,
    MultiRangePlan,
    RangePlan,
    apply_edit_list,
    body_size,
    decrypt_segments,
    encrypt_stream,
    plaintext_size,
    plan_range,
    plan_regions,
)

__all__ = [
    "CIPHER_SEGMENT_SIZE", "EMPTY_EDIT_LIST", "SEGMENT_SIZE", "Crypt4GHError", "InvalidKey", "MultiRangePlan", "NotCrypt4GH",
    "NotForOurKey", "OpenedHeader", "RangeNotSatisfiable", "RangePlan", "SegmentAuthenticationError",
    "TruncatedFile", "UnsupportedHeader", "apply_edit_list", "body_size", "build_header", "decrypt_segments",
    "encrypt_stream", "format_public_key", "generate_keypair", "key_id", "load_secret_key", "open_header",
    "parse_public_key", "plaintext_size", "plan_range", "plan_regions", "public_from_secret", "read_header",
    "reencrypt_header",
]
