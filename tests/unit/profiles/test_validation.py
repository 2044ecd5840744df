"""Registration refuses mappings whose units cannot match, naming the field, both units and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.__main__ import main
from processors.catalog import Catalog, load_catalog
from processors.profiles import ProfileError, compile_profile, load_profiles, parse_profile
from processors.profiles.validation import profile_problems


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def lpp_profile(*fields: dict[str, Any], dataset: str = "agri_soil") -> dict[str, Any]:
    return {
        "name": "bad-probe",
        "version": 1,
        "family": "agri",
        "codec": "cayenne_lpp",
        "dataset": dataset,
        "description": "test",
        "fields": list(fields),
    }


def test_repository_profiles_fit_the_catalog(catalog: Catalog) -> None:
    profiles = load_profiles(catalog=catalog)
    assert {p.name for p in profiles} >= {"soil-mth-lpp", "sim-soil-a-lpp", "sim-soil-json"}


def test_lpp_temperature_into_moisture_is_refused(catalog: Catalog) -> None:
    profile = parse_profile(
        lpp_profile({"channel": 2, "type": "temperature", "item": "soil_moisture"})
    )
    (problem,) = profile_problems(profile, catalog)
    assert "channel 2 (temperature) -> agri_soil.soil_moisture" in problem
    assert "'Cel'" in problem and "'%'" in problem
    assert "measures temperature but '%' measures percentage" in problem
    with pytest.raises(ProfileError) as info:
        compile_profile(profile, catalog)
    assert problem in info.value.problems


def test_relative_humidity_into_conductivity_is_refused(catalog: Catalog) -> None:
    profile = parse_profile(
        {
            **lpp_profile(),
            "codec": "json",
            "fields": [{"path": "rh", "item": "soil_ec", "unit": "%"}],
        }
    )
    (problem,) = profile_problems(profile, catalog)
    assert "path rh -> agri_soil.soil_ec" in problem
    assert "'%' cannot be converted to the item's unit 'uS/cm'" in problem
    assert "'%' measures percentage but 'uS/cm' measures conductivity" in problem


def test_lpp_type_unit_cannot_be_overridden_across_quantities(catalog: Catalog) -> None:
    profile = parse_profile(
        lpp_profile({"channel": 3, "type": "humidity", "item": "soil_ec", "unit": "uS/cm"})
    )
    problems = profile_problems(profile, catalog)
    assert any("LPP humidity always carries %" in p for p in problems)


def test_generic_lpp_type_needs_a_declared_unit(catalog: Catalog) -> None:
    profile = parse_profile(lpp_profile({"channel": 1, "type": "analog_input", "item": "soil_ec"}))
    (problem,) = profile_problems(profile, catalog)
    assert "carries a bare number; declare the unit" in problem
    assert "uS/cm" in problem


def test_unknown_unit_item_and_wide_range_are_refused(catalog: Catalog) -> None:
    profile = parse_profile(
        lpp_profile(
            {"channel": 1, "type": "analog_input", "item": "soil_moisture", "unit": "degC"},
            {"channel": 2, "type": "temperature", "item": "leaf_wetness"},
            {"channel": 3, "type": "temperature", "item": "soil_temperature", "max": 120},
        )
    )
    problems = "\n".join(profile_problems(profile, catalog))
    assert "unit 'degC' is not a known UCUM code" in problems
    assert "agri_soil has no item 'leaf_wetness'" in problems
    assert "plausible max 120.0 lies outside the catalog range" in problems


def test_model_refuses_ambiguous_fields() -> None:
    with pytest.raises(ProfileError, match="exactly one source"):
        parse_profile(lpp_profile({"channel": 1, "type": "temperature", "path": "x", "item": "a1"}))
    with pytest.raises(ProfileError, match="mapped twice"):
        parse_profile(
            lpp_profile(
                {"channel": 1, "type": "temperature", "item": "soil_temperature"},
                {"channel": 1, "type": "temperature", "item": "soil_moisture"},
            )
        )
    with pytest.raises(ProfileError, match="not a agri codec"):
        parse_profile({**lpp_profile(), "codec": "sparkplug"})


def test_cli_validate_names_the_refused_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad-probe.yaml").write_text(
        "name: bad-probe\nversion: 1\nfamily: agri\ncodec: cayenne_lpp\ndataset: agri_soil\n"
        "description: test\nfields:\n"
        "  - {channel: 2, type: temperature, item: soil_moisture}\n",
        encoding="utf-8",
    )
    assert main(["profiles", "--profiles", str(tmp_path), "validate"]) == 1
    err = capsys.readouterr().err
    assert "channel 2 (temperature) -> agri_soil.soil_moisture" in err
    assert "'Cel' cannot be converted to the item's unit '%'" in err
    assert main(["profiles", "validate"]) == 0
