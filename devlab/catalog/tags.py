"""Which of a repository's tags the menu offers, in what order, under what names.

Pure: tag lists and digests come in, choices come out, so the policy is tested without a
registry. Tags that match no pattern are ignored unless pinned or recommended: registries
accumulate experiments and typos that must never reach the menu by accident.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from devlab.config.catalog import ImageSource, TagPatterns


class Kind(StrEnum):
    """What a tag's name says it is."""

    RELEASE = "release"
    CANDIDATE = "candidate"
    WEEKLY = "weekly"
    DAILY = "daily"
    OTHER = "other"


class Role(StrEnum):
    """Why an image is on the menu; also its place there (see ROLE_ORDER)."""

    RECOMMENDED = "recommended"
    RELEASE = "release"
    WEEKLY = "weekly"
    DAILY = "daily"
    CANDIDATE = "candidate"
    PIN = "pin"
    IMAGE = "image"
    FALLBACK = "fallback"


# Menu order: the recommended image first, then the most stable choices before the newest.
ROLE_ORDER = {role: rank for rank, role in enumerate(Role)}
_KIND_ROLE = {
    Kind.RELEASE: Role.RELEASE,
    Kind.CANDIDATE: Role.CANDIDATE,
    Kind.WEEKLY: Role.WEEKLY,
    Kind.DAILY: Role.DAILY,
}


@dataclass(frozen=True)
class ParsedTag:
    """A tag with its kind, a key ordering it among its kind (bigger is newer), and a label."""

    name: str
    kind: Kind
    key: tuple[int, ...]
    display_name: str


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def parse_tag(name: str, patterns: TagPatterns | None = None) -> ParsedTag:
    """Classify `name`; impossible dates and weeks count as OTHER, like any other garbage."""
    patterns = patterns or TagPatterns()
    if match := _compiled(patterns.release).fullmatch(name):
        return _release(name, match)
    if match := _compiled(patterns.weekly).fullmatch(name):
        year, week = int(match["year"]), int(match["week"])
        if 1 <= week <= 53:
            return ParsedTag(
                name, Kind.WEEKLY, (year, week), f"Weekly {match['year']}_{match['week']}"
            )
    if match := _compiled(patterns.daily).fullmatch(name):
        try:
            day = datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
        except ValueError:
            pass
        else:
            label = f"Daily {match['year']}_{match['month']}_{match['day']}"
            return ParsedTag(name, Kind.DAILY, (day.year, day.month, day.day), label)
    return ParsedTag(name, Kind.OTHER, (), name)


def _release(name: str, match: re.Match[str]) -> ParsedTag:
    groups = match.groupdict()
    major, minor = int(groups["major"]), int(groups["minor"])
    patch = groups.get("patch")
    rc = groups.get("rc")
    version = f"r{major}.{minor}" + (f".{int(patch)}" if patch is not None else "")
    # A final release sorts after its candidates: (…, 1, 0) > (…, 0, rc).
    key = (major, minor, int(patch or 0), 0 if rc else 1, int(rc or 0))
    if rc is not None:
        return ParsedTag(name, Kind.CANDIDATE, key, f"Release candidate {version}-rc{int(rc)}")
    return ParsedTag(name, Kind.RELEASE, key, f"Release {version}")


@dataclass(frozen=True)
class ChosenTag:
    tag: ParsedTag
    role: Role

    @property
    def name(self) -> str:
        return self.tag.name


@dataclass(frozen=True)
class Selection:
    """The tags a source offers, in menu order, and wanted tags the registry lacks."""

    chosen: tuple[ChosenTag, ...]
    missing: tuple[str, ...]

    def display_names(self, digests: Mapping[str, str]) -> dict[str, str]:
        """Each chosen tag's label; the recommended alias names the tag it points at.

        `digests` maps tag to manifest digest for the tags whose digest is known; an alias
        is recognised only among the chosen tags, since resolving every tag a registry
        holds would cost one request per tag every interval.
        """
        names = {c.name: c.tag.display_name for c in self.chosen}
        for choice in self.chosen:
            if choice.role is Role.RECOMMENDED:
                names[choice.name] = _recommended_name(choice, self.chosen, digests)
        return names


def _recommended_name(
    alias: ChosenTag, chosen: Iterable[ChosenTag], digests: Mapping[str, str]
) -> str:
    if alias.tag.kind is not Kind.OTHER:
        return f"Recommended ({alias.tag.display_name})"
    digest = digests.get(alias.name)
    twins = [
        c
        for c in chosen
        if c is not alias and c.tag.kind is not Kind.OTHER and digest is not None
        if digests.get(c.name) == digest
    ]
    if not twins:
        return "Recommended"
    twin = min(twins, key=lambda c: ROLE_ORDER[c.role])
    return f"Recommended ({twin.tag.display_name})"


def select_tags(tags: Iterable[str], source: ImageSource) -> Selection:
    """The recommended tag, the newest N of each kind, then pins; each tag once."""
    parsed = {name: parse_tag(name, source.patterns) for name in set(tags)}
    chosen: list[ChosenTag] = []
    missing: list[str] = []
    taken: set[str] = set()

    def take(name: str, role: Role) -> None:
        if name in taken:
            return
        if name not in parsed:
            missing.append(name)
            return
        taken.add(name)
        chosen.append(ChosenTag(parsed[name], role))

    if source.recommended_tag:
        take(source.recommended_tag, Role.RECOMMENDED)
    quotas = {
        Kind.RELEASE: source.releases,
        Kind.WEEKLY: source.weeklies,
        Kind.DAILY: source.dailies,
        Kind.CANDIDATE: source.candidates,
    }
    for kind, count in quotas.items():
        for tag in newest(parsed.values(), kind, count):
            take(tag.name, _KIND_ROLE[kind])
    for pin in source.pins:
        take(pin, Role.PIN)
    return Selection(tuple(chosen), tuple(missing))


def newest(tags: Iterable[ParsedTag], kind: Kind, count: int) -> list[ParsedTag]:
    """The `count` newest tags of `kind`, newest first; ties (r29_0 vs r29_0_0) by name."""
    same = [t for t in tags if t.kind is kind]
    return sorted(same, key=lambda t: (t.key, t.name), reverse=True)[:count]


# Image references -----------------------------------------------------------------------


def split_reference(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of `ref`; a port colon is not mistaken for a tag."""
    ref, _, digest = ref.partition("@")
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :], digest or None
    return ref, None, digest or None


def canonical_reference(ref: str) -> str:
    """`ref` as the engine lists it in RepoTags: Docker Hub prefixes dropped, `:latest` added.

    The engine reports `debian:bookworm` for a pull of `docker.io/library/debian:bookworm`,
    so references are compared in this form.
    """
    repository, tag, digest = split_reference(ref)
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if repository.startswith(prefix):
            repository = repository.removeprefix(prefix).removeprefix("library/")
            break
    if digest:
        return f"{repository}@{digest}"
    return f"{repository}:{tag or 'latest'}"


def reference_display_name(ref: str) -> str:
    """A label for an image listed by reference: from its tag when the tag says what it is."""
    _, tag, _ = split_reference(ref)
    parsed = parse_tag(tag) if tag else None
    if parsed is None or parsed.kind is Kind.OTHER:
        return ref
    return parsed.display_name


def tags_for_day(day: datetime.date, recommended: str = "recommended") -> tuple[str, ...]:
    """The tags a site's build of `day` would carry: the recommended alias, that week's
    weekly and that day's daily, in the default naming (`w_2026_48`, `d_2026_11_26`)."""
    year, week, _ = day.isocalendar()
    return (recommended, f"w_{year}_{week:02d}", f"d_{day.year}_{day.month:02d}_{day.day:02d}")
