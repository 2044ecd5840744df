"""Device profiles: per probe model, the payload codec and where each field goes, in which unit.

Usage: ``book = ProfileBook(load_profiles(catalog=catalog)); plan = compile_profile(p, catalog)``.
"""

from __future__ import annotations

from processors.profiles.exceptions import MappingRefused, ProfileError, ProfileRegistrationError
from processors.profiles.loader import (
    DEFAULT_PROFILES_DIR,
    ProfileBook,
    load_profiles,
    parse_profile,
)
from processors.profiles.mapping import (
    ProfilePlan,
    ProfileValues,
    compile_profile,
    map_fields,
    map_lpp,
    no_profile_detail,
)
from processors.profiles.models import CODECS_BY_FAMILY, FieldMap, Profile, parse_duration_s
from processors.profiles.validation import profile_problems

__all__ = [
    "CODECS_BY_FAMILY",
    "DEFAULT_PROFILES_DIR",
    "FieldMap",
    "MappingRefused",
    "Profile",
    "ProfileBook",
    "ProfileError",
    "ProfilePlan",
    "ProfileRegistrationError",
    "ProfileValues",
    "compile_profile",
    "load_profiles",
    "map_fields",
    "map_lpp",
    "no_profile_detail",
    "parse_duration_s",
    "parse_profile",
    "profile_problems",
]
