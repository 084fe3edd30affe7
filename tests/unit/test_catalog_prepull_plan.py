"""The prepuller's decisions (pure): what to pull, what to remove, what the state says."""

import datetime

from devlab.catalog.prepull_plan import (
    Action,
    Desired,
    LocalImage,
    Plan,
    carried_forward,
    first_of_each,
    local_digest,
    plan,
    records_for,
)
from devlab.catalog.state import CatalogState, ImageRecord
from devlab.catalog.tags import Role

REPO = "127.0.0.1:5000/devlab/lab"
AT = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
OLD = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)


def digest(char):
    return "sha256:" + char * 64


def want(tag, char=None, **extra):
    return Desired(f"{REPO}:{tag}", tag, Role.WEEKLY, REPO, digest(char) if char else None, **extra)


def here(tag, char, image_id=None):
    return LocalImage(
        id=image_id or f"sha256:id-{tag}",
        tags=(f"{REPO}:{tag}",),
        repo_digests=(f"{REPO}@{digest(char)}",),
        size=100,
    )


def owned(tag, desired=False, **extra):
    return ImageRecord(
        ref=f"{REPO}:{tag}",
        display_name=tag,
        role=Role.WEEKLY,
        source=REPO,
        desired=desired,
        status="pulled",
        owned=True,
        image_id=f"sha256:id-{tag}",
        changed_at=OLD,
        **extra,
    )


def test_pulls_what_is_missing_and_what_moved_only():
    desired = [want("w_2026_47", "a"), want("w_2026_46", "b"), want("w_2026_45", "c")]
    local = [here("w_2026_46", "b"), here("w_2026_45", "0")]
    result = plan(desired, local, set(), None)
    assert result.pull == (
        Action(f"{REPO}:w_2026_47", "not on this machine"),
        Action(f"{REPO}:w_2026_45", f"the tag moved to {digest('c')}"),
    )
    assert result.remove == ()


def test_unknown_digest_keeps_a_present_image_and_pulls_a_missing_one():
    desired = [want("w_2026_47"), want("w_2026_46")]
    result = plan(desired, [here("w_2026_47", "a")], set(), None)
    assert [a.ref for a in result.pull] == [f"{REPO}:w_2026_46"]


def test_unresolvable_and_fallback_images_are_never_pulled():
    desired = [
        want("w_2026_47", error="registry unreachable"),
        Desired("devlab/lab:0.1.0-abc", "Default", Role.FALLBACK, pullable=False),
    ]
    assert plan(desired, [], set(), None) == Plan()


def test_removes_only_images_it_pulled_that_left_the_menu():
    previous = CatalogState(
        images=(
            owned("w_2026_40"),
            owned("w_2026_41").model_copy(update={"owned": False}),  # someone else's
            owned("w_2026_47", desired=True),  # still offered
            owned("w_2026_30"),  # already gone from the engine
        )
    )
    local = [here("w_2026_40", "a"), here("w_2026_41", "b"), here("w_2026_47", "c")]
    result = plan([want("w_2026_47", "c")], local, set(), previous)
    assert result.remove == (Action(f"{REPO}:w_2026_40", "no longer offered"),)
    assert result.pull == ()


def test_keeps_images_a_running_lab_uses_by_ref_or_id():
    previous = CatalogState(images=(owned("w_2026_40"), owned("w_2026_41")))
    local = [here("w_2026_40", "a"), here("w_2026_41", "b", image_id="sha256:running")]
    result = plan([], local, {f"{REPO}:w_2026_40", "sha256:running"}, previous)
    assert result.remove == ()
    assert [a.ref for a in result.keep] == [f"{REPO}:w_2026_40", f"{REPO}:w_2026_41"]
    assert all("running lab" in a.reason for a in result.keep)


def test_removal_can_be_turned_off():
    previous = CatalogState(images=(owned("w_2026_40"),))
    result = plan([], [here("w_2026_40", "a")], set(), previous, remove_unlisted=False)
    assert (result.remove, [a.ref for a in result.keep]) == ((), [f"{REPO}:w_2026_40"])


def test_docker_hub_references_match_the_engines_short_names():
    desired = [
        Desired("docker.io/library/debian:bookworm", "Debian", Role.IMAGE, digest=digest("d"))
    ]
    local = [LocalImage("sha256:x", ("debian:bookworm",), (f"debian@{digest('d')}",))]
    assert plan(desired, local, set(), None) == Plan()
    assert local_digest(local[0], "docker.io/library/debian:bookworm") == digest("d")


def test_digest_pinned_references_are_found_by_repo_digest():
    ref = f"{REPO}@{digest('e')}"
    desired = [Desired(ref, "Pinned", Role.IMAGE)]
    local = [LocalImage("sha256:x", (), (f"{REPO}@{digest('e')}",))]
    assert plan(desired, local, set(), None) == Plan()


def test_unreachable_registry_carries_last_rounds_images_forward_unremoved():
    previous = CatalogState(
        images=(
            owned("w_2026_47", desired=True, digest=digest("a")),
            owned("w_2026_40"),  # not desired last round: not carried
        )
    )
    carried = carried_forward(previous, REPO, "connection refused")
    assert [(d.ref, d.error, d.digest) for d in carried] == [
        (f"{REPO}:w_2026_47", "connection refused", digest("a"))
    ]
    result = plan(carried, [here("w_2026_47", "a"), here("w_2026_40", "b")], set(), previous)
    assert result.pull == ()
    assert [a.ref for a in result.remove] == [f"{REPO}:w_2026_40"]
    assert carried_forward(None, REPO, "x") == []


def test_records_describe_the_round_before_any_action():
    previous = CatalogState(
        images=(
            owned("w_2026_47", desired=True, digest=digest("a"), size_bytes=100),
            owned("w_2026_40"),
        )
    )
    desired = [
        want("w_2026_47", "a"),
        want("w_2026_46", "b"),
        want("w_2026_45", error="HTTP 500"),
        Desired("devlab/lab:0.1.0-abc", "Default", Role.FALLBACK, pullable=False),
    ]
    local = [here("w_2026_47", "a"), here("w_2026_40", "c")]
    todo = plan(desired, local, set(), previous)
    records = {r.ref.rpartition(":")[2]: r for r in records_for(desired, local, previous, todo, AT)}
    unchanged = records["w_2026_47"]
    assert (unchanged.status, unchanged.owned, unchanged.changed_at) == ("pulled", True, OLD)
    assert (records["w_2026_46"].status, records["w_2026_46"].owned) == ("missing", False)
    assert (records["w_2026_45"].status, records["w_2026_45"].reason) == ("failed", "HTTP 500")
    assert records["0.1.0-abc"].status == "missing"
    assert "devlab up" in records["0.1.0-abc"].reason
    leaving = records["w_2026_40"]
    assert (leaving.desired, leaving.reason, leaving.changed_at) == (False, "no longer offered", AT)


def test_present_but_unresolvable_image_stays_pulled_with_the_reason():
    desired = [want("w_2026_47", error="registry unreachable")]
    local = [here("w_2026_47", "a")]
    (only,) = records_for(desired, local, None, plan(desired, local, set(), None), AT)
    assert (only.status, only.reason, only.digest) == (
        "pulled",
        "registry unreachable",
        digest("a"),
    )
    assert not only.owned  # it was here before the prepuller knew of it


def test_a_ref_listed_twice_is_offered_once_as_its_first_entry_says():
    from_source = want("w_2026_47", "a")
    listed = Desired(f"{REPO}:w_2026_47", "Listed", Role.IMAGE)
    debian = Desired("debian:bookworm", "Debian", Role.IMAGE)
    also_debian = Desired("docker.io/library/debian:bookworm", "Again", Role.IMAGE)
    assert first_of_each([from_source, debian, listed, also_debian]) == [from_source, debian]
