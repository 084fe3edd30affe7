"""Tag classification, ordering and the newest-N policy (pure)."""

import pytest
from pydantic import ValidationError

from devlab.catalog.tags import (
    Kind,
    Role,
    canonical_reference,
    newest,
    parse_tag,
    reference_display_name,
    select_tags,
    split_reference,
)
from devlab.config.catalog import CatalogConfig, ImageSource, LabSize, TagPatterns

REPO = "127.0.0.1:5000/devlab/lab"


@pytest.mark.parametrize(
    ("tag", "kind", "label"),
    [
        ("r29_0", Kind.RELEASE, "Release r29.0"),
        ("r29_0_1", Kind.RELEASE, "Release r29.0.1"),
        ("r29_0_0_rc1", Kind.CANDIDATE, "Release candidate r29.0.0-rc1"),
        ("w_2026_47", Kind.WEEKLY, "Weekly 2026_47"),
        ("d_2026_11_26", Kind.DAILY, "Daily 2026_11_26"),
        ("recommended", Kind.OTHER, "recommended"),
        ("latest", Kind.OTHER, "latest"),
        ("w_2026_54", Kind.OTHER, "w_2026_54"),  # no week 54
        ("d_2026_02_30", Kind.OTHER, "d_2026_02_30"),  # no 30 February
        ("w_2026_47_extra", Kind.OTHER, "w_2026_47_extra"),  # patterns match whole tags
        ("exp_w_2026_47", Kind.OTHER, "exp_w_2026_47"),
    ],
)
def test_parse_tag(tag, kind, label):
    parsed = parse_tag(tag)
    assert (parsed.kind, parsed.display_name) == (kind, label)


def test_release_order_puts_candidates_before_their_release_and_patches_after():
    names = ["r29_0_1", "r28_9", "r29_0_0_rc2", "r29_0", "r29_0_0_rc1", "r3_0", "r29_0_0_rc10"]
    ordered = sorted((parse_tag(n) for n in names), key=lambda t: t.key)
    assert [t.name for t in ordered] == [
        "r3_0",  # numeric, not lexical
        "r28_9",
        "r29_0_0_rc1",
        "r29_0_0_rc2",
        "r29_0_0_rc10",
        "r29_0",
        "r29_0_1",
    ]


def test_newest_weeklies_and_dailies_are_by_date_not_by_text():
    tags = [parse_tag(n) for n in ("w_2025_52", "w_2026_3", "w_2026_10", "d_2026_1_9")]
    assert [t.name for t in newest(tags, Kind.WEEKLY, 2)] == ["w_2026_10", "w_2026_3"]
    assert [t.name for t in newest(tags, Kind.DAILY, 5)] == ["d_2026_1_9"]


REGISTRY_TAGS = [
    "recommended",
    "latest",
    "r28_0",
    "r29_0",
    "r30_0_0_rc1",
    "w_2026_45",
    "w_2026_46",
    "w_2026_47",
    "d_2026_11_24",
    "d_2026_11_25",
    "d_2026_11_26",
    "d_2026_11_27",
    "junk",
    "w_2026_99",
    "exp_new_thing",
]


def test_policy_takes_recommended_newest_n_and_pins_once_each_in_menu_order():
    source = ImageSource(repository=REPO, pins=("r28_0", "w_2026_47", "exp_new_thing"))
    selection = select_tags(REGISTRY_TAGS, source)
    chosen = [(c.name, c.role) for c in selection.chosen]
    assert chosen == [
        ("recommended", Role.RECOMMENDED),
        ("r29_0", Role.RELEASE),
        ("w_2026_47", Role.WEEKLY),  # pinned too, but listed once
        ("w_2026_46", Role.WEEKLY),
        ("d_2026_11_27", Role.DAILY),
        ("d_2026_11_26", Role.DAILY),
        ("d_2026_11_25", Role.DAILY),
        ("r28_0", Role.PIN),
        ("exp_new_thing", Role.PIN),  # pins may be any tag
    ]
    assert selection.missing == ()


def test_garbage_and_candidates_are_ignored_unless_asked_for():
    source = ImageSource(repository=REPO, candidates=1, releases=0, weeklies=0, dailies=0)
    names = [c.name for c in select_tags(REGISTRY_TAGS, source).chosen]
    assert names == ["recommended", "r30_0_0_rc1"]
    assert not {"junk", "latest", "w_2026_99"} & set(names)


def test_missing_pins_and_recommended_are_reported():
    source = ImageSource(repository=REPO, pins=("r1_0",), releases=0, weeklies=0, dailies=0)
    selection = select_tags(["w_2026_01"], source)
    assert selection.chosen == ()
    assert selection.missing == ("recommended", "r1_0")


def test_no_tags_at_all():
    assert select_tags([], ImageSource(repository=REPO)).chosen == ()


def test_recommended_names_the_tag_with_the_same_digest():
    selection = select_tags(REGISTRY_TAGS, ImageSource(repository=REPO))
    digests = {"recommended": "sha256:b", "w_2026_47": "sha256:b", "w_2026_46": "sha256:a"}
    names = selection.display_names(digests)
    assert names["recommended"] == "Recommended (Weekly 2026_47)"
    assert names["w_2026_47"] == "Weekly 2026_47"


def test_recommended_prefers_a_release_twin_and_stays_plain_without_one():
    selection = select_tags(REGISTRY_TAGS, ImageSource(repository=REPO))
    same = {"recommended": "sha256:x", "w_2026_47": "sha256:x", "r29_0": "sha256:x"}
    assert selection.display_names(same)["recommended"] == "Recommended (Release r29.0)"
    assert selection.display_names({"recommended": "sha256:z"})["recommended"] == "Recommended"
    assert selection.display_names({})["recommended"] == "Recommended"


def test_custom_patterns_with_named_groups():
    patterns = TagPatterns(weekly=r"weekly-(?P<year>\d{4})\.(?P<week>\d+)")
    assert parse_tag("weekly-2026.7", patterns).display_name == "Weekly 2026_7"
    assert parse_tag("w_2026_07", patterns).kind is Kind.OTHER
    with pytest.raises(ValidationError, match="named group"):
        TagPatterns(daily=r"d_(?P<year>\d+)")
    with pytest.raises(ValidationError, match="regular expression"):
        TagPatterns(release=r"r(?P<major>\d+")


@pytest.mark.parametrize(
    ("ref", "parts", "canonical"),
    [
        (f"{REPO}:w_2026_47", (REPO, "w_2026_47", None), f"{REPO}:w_2026_47"),
        (REPO, (REPO, None, None), f"{REPO}:latest"),
        ("docker.io/library/debian:bookworm", None, "debian:bookworm"),
        ("docker.io/jupyter/base:x", None, "jupyter/base:x"),
        (f"{REPO}@sha256:{'a' * 64}", (REPO, None, f"sha256:{'a' * 64}"), None),
    ],
)
def test_references(ref, parts, canonical):
    if parts:
        assert split_reference(ref) == parts
    if canonical:
        assert canonical_reference(ref) == canonical


def test_reference_display_name_from_tag_or_ref():
    assert reference_display_name(f"{REPO}:w_2026_47") == "Weekly 2026_47"
    assert (
        reference_display_name("jupyter/base-notebook:2024-01") == "jupyter/base-notebook:2024-01"
    )


# Config validation -------------------------------------------------------------------------


def test_memory_strings_and_the_summary_a_size_shows():
    size = LabSize(name="x", cpu_guarantee=0.5, cpu_limit=1, mem_guarantee="512M", mem_limit="8G")
    assert (size.mem_guarantee, size.mem_limit) == (512 * 2**20, 8 * 2**30)
    assert size.summary == "0.5 to 1 core, 512 MB to 8 GB memory"
    assert not CatalogConfig().configured  # no image listed: the local build is offered


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sizes": [{"name": "a", "cpu_guarantee": 2, "cpu_limit": 1, "mem_guarantee": "1G",
                     "mem_limit": "1G"}]}, "cpu_guarantee 2.0 exceeds"),
        ({"sizes": [{"name": "a", "cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "2G",
                     "mem_limit": "1G"}]}, "mem_guarantee 2 GB exceeds mem_limit 1 GB"),
        ({"sizes": [{"name": "a", "cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "lots",
                     "mem_limit": "1G"}]}, "not a memory size"),
        ({"default_size": "huge"}, "default_size 'huge' is not one of the sizes"),
        ({"sizes": [{"name": "a", "cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                     "mem_limit": "1G"}] * 2}, "size name 'a' is listed twice"),
        ({"sources": [{"repository": "devlab/lab"}]}, "does not name its registry"),
        ({"sources": [{"repository": f"{REPO}:tag"}]}, "without tag or digest"),
        ({"sources": [{"repository": REPO, "pins": ["bad tag"]}]}, "not a Docker tag"),
        ({"images": [{"ref": "has space:1"}]}, "not an image reference"),
        ({"images": [{"ref": "a:1"}, {"ref": "a:1"}]}, "listed twice"),
        ({"prepull": {"interval": 5}}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_invalid_config_is_refused_with_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        CatalogConfig.model_validate(data)


def test_a_days_build_tags_parse_as_its_weekly_and_daily():
    import datetime

    from devlab.catalog.tags import Kind, parse_tag, tags_for_day

    tags = tags_for_day(datetime.date(2026, 11, 26))
    assert tags == ("recommended", "w_2026_48", "d_2026_11_26")
    assert [parse_tag(t).kind for t in tags[1:]] == [Kind.WEEKLY, Kind.DAILY]
