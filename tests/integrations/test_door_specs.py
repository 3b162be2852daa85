"""Every door spec comes with what makes it trustworthy: the vendor's own payloads (with
their source) and a test file of its format; and its declared examples are what its
format accepts. A spec missing any of them fails here, by name."""

from pathlib import Path

import pytest

from integrations.formats import DOORS, FORMATS

TESTS = Path(__file__).resolve().parent
PAYLOADS = TESTS / "payloads"
BODY_DOORS = [spec for spec in DOORS if spec.reads_body]


def slugs(specs) -> list[str]:
    return [spec.slug for spec in specs]


@pytest.mark.parametrize("spec", BODY_DOORS, ids=slugs(BODY_DOORS))
def test_every_door_that_reads_a_body_has_vendor_payloads_with_their_source(spec):
    directory = PAYLOADS / spec.payloads_dir
    assert sorted(directory.glob("*.json")), f"no vendor payloads in {directory.relative_to(TESTS)}/"
    sources = (PAYLOADS / "SOURCES.md").read_text()
    assert f"## {spec.payloads_dir}/" in sources, f"payloads/SOURCES.md has no '## {spec.payloads_dir}/' section"


@pytest.mark.parametrize("spec", DOORS, ids=slugs(DOORS))
def test_every_door_has_its_format_tests(spec):
    assert (TESTS / f"test_format_{spec.slug}.py").is_file(), f"no tests/integrations/test_format_{spec.slug}.py"


@pytest.mark.parametrize("spec", DOORS, ids=slugs(DOORS))
def test_a_door_declares_paths_methods_and_a_key_reader(spec):
    assert spec.paths and spec.key_from
    assert all(door_path.methods for door_path in spec.paths)
    # A path with the key in it must be read from there.
    if any(door_path.has_path_key for door_path in spec.paths):
        assert "path" in [reader.where for reader in spec.key_from]


def test_door_slugs_and_path_names_are_unique():
    names = [door_path.name for spec in DOORS for door_path in spec.paths]
    assert len(names) == len(set(names)) and len(FORMATS) == len(DOORS)


@pytest.mark.parametrize("spec", BODY_DOORS, ids=slugs(BODY_DOORS))
def test_the_declared_example_is_a_valid_trigger_and_the_resolve_closes_it(spec):
    """The common-rules tests send these; they must say what the spec says they are."""
    events = spec.parse(spec.example)
    assert events and all(event.action in ("trigger", "change") for event in events)
    if spec.resolve_example is not None:
        closing = spec.parse(spec.resolve_example)
        assert [e.action for e in closing] == ["resolve"] * len(closing)
        assert [e.dedup_key for e in closing] == [e.dedup_key for e in events]


def test_a_path_that_starts_with_the_key_comes_after_every_other_door():
    """Spike's `/<key>/push-events` matches one free segment: first, it could shadow a door."""
    from integrations.urls import urlpatterns

    key_first = [p.pattern.regex.pattern.startswith("^(?P<key>") for p in urlpatterns]
    assert key_first.index(True) == len(key_first) - key_first.count(True)
    assert urlpatterns[-1].name == "door-spike"
