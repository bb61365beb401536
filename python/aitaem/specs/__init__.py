"""aitaem.specs - spec classes and the spec cache."""

from aitaem.specs.compatibility import CompatibilityResult, ScanResult
from aitaem.specs.loader import (
    SpecCache,
    load_spec_from_file,
    load_spec_from_string,
    load_specs_from_directory,
)
from aitaem.specs.metric import MetricSpec
from aitaem.specs.segment import SegmentSpec, SegmentValue
from aitaem.specs.slice import SliceSpec, SliceValue

__all__ = [
    "MetricSpec",
    "SliceSpec",
    "SliceValue",
    "SegmentSpec",
    "SegmentValue",
    "SpecCache",
    "load_spec_from_file",
    "load_spec_from_string",
    "load_specs_from_directory",
    "CompatibilityResult",
    "ScanResult",
]
