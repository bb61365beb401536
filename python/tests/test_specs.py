"""Specs: loading from directories, files and strings; the cache; the spec classes."""

from __future__ import annotations

import pathlib

import pytest

import aitaem
from aitaem import (
    MetricSpec,
    SegmentSpec,
    SegmentValue,
    SliceSpec,
    SliceValue,
    SpecCache,
    SpecNotFoundError,
    SpecValidationError,
)
from aitaem.specs import load_spec_from_file, load_spec_from_string, load_specs_from_directory

METRIC = """
metric:
  name: clicks
  source: duckdb://ads.duckdb/events
  numerator: SUM(clicks)
  timestamp_col: event_ts
"""
SLICE = "slice:\n  name: device\n  where: device_type\n"
SLICE2 = "slice:\n  name: country\n  where: country\n"
COMPOSITE = "slice:\n  name: dxc\n  cross_product: [device, country]\n"


def test_from_yaml_loads_directories_files_and_lists(ads: pathlib.Path) -> None:
    cache = SpecCache.from_yaml(ads / "metrics", str(ads / "slices"), [ads / "segments"])
    assert len(cache.metrics) == 10 and len(cache.slices) == 7 and len(cache.segments) == 3
    one = SpecCache.from_yaml(metric_paths=[str(ads / "metrics" / "ctr.yaml")])
    assert list(one.metrics) == ["ctr"]
    ctr = one.get_metric("ctr")
    assert (ctr.numerator, ctr.denominator, ctr.format, ctr.entities) == (
        "SUM(clicks)",
        "SUM(impressions)",
        "percentage",
        ["user_id"],
    )
    assert cache.get_segment("tier_region").column == ("tier", "region")
    assert cache.get_segment("tier_region").join_keys == ("user_id",)
    assert cache.get_slice("campaign_x_device").cross_product == ("campaign_type", "device")
    assert cache.get_slice("spend_band").values[2] == SliceValue("high_spend", "ad_spend >= 50")
    assert cache.get_segment("platform_group").values[0] == SegmentValue(
        "search", "_dim.platform_group = 'search'"
    )


def test_a_missing_path_is_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        SpecCache.from_yaml(metric_paths=tmp_path / "nowhere")


def test_one_invalid_file_fails_the_load_with_every_problem_located(tmp_path: pathlib.Path) -> None:
    (tmp_path / "good.yaml").write_text(METRIC)
    (tmp_path / "bad.yaml").write_text(
        "metric:\n  name: 1bad\n  source: events\n  numerater: SUM(x)\n"
    )
    with pytest.raises(SpecValidationError) as caught:
        SpecCache.from_yaml(metric_paths=tmp_path)
    err = caught.value
    assert err.spec_type == "metric"
    assert isinstance(err, aitaem.AitaemError)
    fields = {e.field for e in err.errors}
    assert {"name", "source", "numerator"} <= fields, fields
    unknown = [e for e in err.errors if "numerater" in e.message]
    assert unknown and unknown[0].location.endswith("bad.yaml:4:3"), unknown
    assert "bad.yaml:" in str(err)


def test_from_string_and_duplicates() -> None:
    cache = SpecCache.from_string(METRIC, [SLICE, SLICE2, COMPOSITE])
    assert sorted(cache.slices) == ["country", "device", "dxc"]
    with pytest.raises(SpecValidationError, match="also defined"):
        SpecCache.from_string(slice_yaml=[SLICE, SLICE])
    with pytest.raises(SpecValidationError, match="country"):
        SpecCache.from_string(slice_yaml=[SLICE, COMPOSITE])


def test_mappings_are_read_only_and_lookups_suggest_names() -> None:
    cache = SpecCache.from_string(METRIC, SLICE)
    with pytest.raises(TypeError):
        cache.metrics["x"] = cache.get_metric("clicks")  # type: ignore[index]
    with pytest.raises(SpecNotFoundError, match="did you mean `clicks`") as caught:
        cache.get_metric("click")
    assert (caught.value.spec_type, caught.value.name) == ("metric", "click")
    with pytest.raises(SpecNotFoundError):
        cache.get_slice("nope")
    with pytest.raises(SpecNotFoundError):
        cache.get_segment("nope")


def test_add_update_remove_clear_and_version() -> None:
    cache = SpecCache()
    assert cache.version == 0
    cache.add(SliceSpec(name="device", column="device_type"))
    cache.add(SliceSpec(name="country", column="country"))
    cache.add(SliceSpec(name="dxc", cross_product=("device", "country")))
    assert cache.version == 3
    with pytest.raises(SpecValidationError, match="already exists"):
        cache.add(SliceSpec(name="device", column="x"))
    cache.update(SliceSpec(name="device", values=(SliceValue("m", "device_type = 'mobile'"),)))
    assert cache.get_slice("device").values[0].name == "m"
    assert cache.version == 4
    with pytest.raises(SpecNotFoundError):
        cache.update(SliceSpec(name="ghost", column="x"))
    # A component of a composite stays; the cache is unchanged.
    with pytest.raises(SpecValidationError, match="dxc"):
        cache.remove("slice", "device")
    assert "device" in cache.slices and cache.version == 4
    cache.remove("slice", "dxc")
    assert sorted(cache.slices) == ["country", "device"]
    with pytest.raises(SpecNotFoundError):
        cache.remove("metric", "nope")
    with pytest.raises(ValueError):
        cache.remove("widget", "x")
    with pytest.raises(TypeError):
        cache.add("not a spec")  # type: ignore[arg-type]
    cache.add(
        MetricSpec(
            name="ctr",
            source="duckdb://ads.duckdb/events",
            numerator="SUM(clicks)",
            denominator="SUM(impressions)",
            timestamp_col='"Event Time"',
            entities=["user_id"],
            format="currency:EUR",
            description='It\'s "quoted"\nand multi-line',
        )
    )
    ctr = cache.get_metric("ctr")
    assert ctr.timestamp_col == '"Event Time"'
    assert ctr.description == 'It\'s "quoted"\nand multi-line'
    assert ctr.format == "currency:EUR"
    cache.add(
        SegmentSpec(
            name="tier",
            source="duckdb://ads.duckdb/users",
            entity_id="user_id",
            column=("tier", "region"),
            join_keys=("user_id", "buyer_id"),
        )
    )
    assert cache.get_segment("tier").column == ("tier", "region")
    version = cache.version
    cache.clear()
    assert cache.version == version + 1
    assert not cache.metrics and not cache.slices and not cache.segments


def test_spec_classes_load_and_validate(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(METRIC)
    assert MetricSpec.from_yaml(path).name == "clicks"
    assert MetricSpec.from_yaml(str(path)).name == "clicks"
    assert load_spec_from_file(path, MetricSpec).numerator == "SUM(clicks)"
    assert load_spec_from_string(SLICE, SliceSpec).column == "device_type"
    with pytest.raises(FileNotFoundError):
        MetricSpec.from_yaml(tmp_path / "missing.yaml")
    with pytest.raises(SpecValidationError) as caught:
        MetricSpec.from_yaml(SLICE)
    assert caught.value.spec_type == "metric"

    good = MetricSpec.from_yaml(METRIC).validate()
    assert good.valid and good.errors == []
    assert good.referenced_columns == {"numerator": ["clicks"], "timestamp_col": ["event_ts"]}
    bad = MetricSpec(name="x y", source="events", numerator="clicks").validate()
    assert not bad.valid and bad.referenced_columns is None
    assert {e.field for e in bad.errors} >= {"name", "source", "numerator"}
    seg = SegmentSpec(
        name="tier",
        source="duckdb://a.db/users",
        entity_id="user_id",
        values=(SegmentValue("pro", "tier = 'pro' AND t.region = 'EU'"),),
    ).validate()
    assert seg.referenced_columns == {
        "entity_id": ["user_id"],
        "values[0].where": ["tier", "region"],
    }
    assert SliceSpec(name="c", cross_product=("a", "b")).validate().referenced_columns == {}
    assert SliceSpec(name="c", cross_product=("a", "b")).is_composite
    assert not SliceSpec(name="c", column="x").is_composite


def test_load_specs_from_directory_skips_bad_files(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a.yaml").write_text(SLICE)
    (tmp_path / "b.yml").write_text("slice:\n  name: broken\n")
    specs = load_specs_from_directory(tmp_path, SliceSpec)
    assert list(specs) == ["device"]
    assert "b.yml" in caplog.text
    with pytest.raises(ValueError):
        load_specs_from_directory(tmp_path / "none", SliceSpec)


def test_specs_come_back_as_given_in_the_order_they_came_in(tmp_path: pathlib.Path) -> None:
    """The same objects (subclasses too), in declaration order: files as read (a directory's
    sorted by path), texts as given, added specs last."""
    (tmp_path / "a.yaml").write_text("metric:\n  name: zz\n  source: duckdb://db/t\n  numerator: SUM(x)\n")
    (tmp_path / "b.yaml").write_text("metric:\n  name: aa\n  source: duckdb://db/t\n  numerator: SUM(x)\n")
    cache = SpecCache.from_yaml(metric_paths=tmp_path)
    assert list(cache.metrics) == ["zz", "aa"]
    assert cache.get_metric("zz") is cache.get_metric("zz")

    class Tagged(aitaem.MetricSpec):
        pass

    mine = Tagged(name="mm", source="duckdb://db/t", numerator="COUNT(*)")
    cache.add(mine)
    assert cache.get_metric("mm") is mine and list(cache.metrics) == ["zz", "aa", "mm"]
    texts = SpecCache.from_string(
        metric_yaml=[
            "metric:\n  name: zz\n  source: duckdb://db/t\n  numerator: SUM(x)\n",
            "metric:\n  name: aa\n  source: duckdb://db/t\n  numerator: SUM(x)\n",
        ]
    )
    assert list(texts.metrics) == ["zz", "aa"]
