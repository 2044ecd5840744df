"""The package exports exactly its public names."""

from __future__ import annotations

from processors.codecs import v2x


def test_exports() -> None:
    assert sorted(v2x.__all__) == sorted(
        ["DEFAULT_EDITION", "V2xCodec", "V2xCodecConfig", "V2xMessage", "VendorHeader",
         "available_editions", "build_vendor_header", "decode_frame", "decode_frame_json",
         "encode_frame", "frame_from_jer", "frame_to_jer", "split_vendor_frame"])
    assert all(hasattr(v2x, name) for name in v2x.__all__)
    assert v2x.available_editions() == ("csae53-2019",)
