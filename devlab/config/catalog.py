"""Typed models of the `catalog:` section of config/devlab.yaml: lab images and sizes.

Like the rest of the config, every model forbids unknown keys, so a misspelt key is an
error naming the key rather than a policy silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

# Docker tag syntax (distribution's reference grammar).
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# A Docker image reference: [host[:port]/]path[:tag][@digest]. Looser than distribution's
# grammar on purpose: the engine gives the precise error; this catches typos like spaces.
IMAGE_REF = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-]+[a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
SIZE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# A source repository `local/PATH` names PATH on the stack's own registry, whatever port
# `devlab up --registry-port` published it on (the engine names it 127.0.0.1:PORT).
LOCAL_ALIAS = "local"


def is_local_alias(repository: str) -> bool:
    """Whether `repository` is `local/PATH`, the stack's own registry by its alias."""
    return repository.partition("/")[0] == LOCAL_ALIAS


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B|I)?\s*$", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_memory(value: object) -> object:
    """Bytes from "512M", "8G", "1.5GiB" or a plain number of bytes.

    Units are binary (M = MiB), as Docker reads `--memory 512m`, so a size written here
    means exactly what it would mean on a `docker run` command line.
    """
    if isinstance(value, bool):
        raise ValueError("memory must be a size like 512M or 8G, not a boolean")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        match = _MEMORY.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a memory size; write e.g. 512M, 2G or 1.5G")
        number, unit = match.groups()
        return int(float(number) * _UNITS[unit.upper()])
    return value


def format_memory(size: int) -> str:
    """Short human form of a byte count, as the spawn form shows it ("512 MB", "8 GB")."""
    for unit, factor in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} B"


def format_cpu(cores: float) -> str:
    return f"{cores:g} {'core' if cores == 1 else 'cores'}"


# A memory size in bytes, written in config as "512M", "8G" or a number of bytes.
Memory = Annotated[int, BeforeValidator(parse_memory), Field(ge=0)]


def _check_tag(value: str) -> str:
    if not TAG.match(value):
        raise ValueError(f"{value!r} is not a Docker tag (letters, digits, _ . -, at most 128)")
    return value


Tag = Annotated[str, AfterValidator(_check_tag)]


def _check_ref(value: str) -> str:
    if not IMAGE_REF.match(value):
        raise ValueError(
            f"{value!r} is not an image reference like 127.0.0.1:5000/devlab/lab:w_2026_47"
        )
    return value


ImageReference = Annotated[str, AfterValidator(_check_ref)]


class TagPatterns(_Strict):
    """How tag names encode their kind and age; each regex must match the whole tag.

    The named groups are what ordering and display names use, so a site with its own
    naming only has to say where the numbers are.
    """

    release: str = Field(
        default=r"r(?P<major>\d+)_(?P<minor>\d+)(?:_(?P<patch>\d+))?(?:_rc(?P<rc>\d+))?",
        description="Releases; groups major, minor, optional patch and rc (a candidate).",
    )
    weekly: str = Field(
        default=r"w_(?P<year>\d{4})_(?P<week>\d{1,2})",
        description="Weekly builds; groups year and week.",
    )
    daily: str = Field(
        default=r"d_(?P<year>\d{4})_(?P<month>\d{1,2})_(?P<day>\d{1,2})",
        description="Daily builds; groups year, month and day.",
    )

    @field_validator("release", "weekly", "daily")
    @classmethod
    def _compiles_with_groups(cls, value: str, info: ValidationInfo) -> str:
        needed = {
            "release": {"major", "minor"},
            "weekly": {"year", "week"},
            "daily": {"year", "month", "day"},
        }[str(info.field_name)]
        try:
            groups = set(re.compile(value).groupindex)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        missing = needed - groups
        if missing:
            raise ValueError(f"needs the named group(s) {', '.join(sorted(missing))}")
        return value


class ImageSource(_Strict):
    """A registry repository whose tags become menu entries by policy."""

    repository: str = Field(
        description=(
            "Repository with its registry host, e.g. registry.example.org/lab; `local/PATH` "
            "is PATH on the stack's own registry (local_registry: true), whatever its port."
        )
    )
    api_url: str | None = Field(
        default=None,
        description=(
            "Base URL of the registry API when the prepuller reaches it under another name "
            "than the engine does (e.g. http://registry:5000 inside the compose network). "
            "By default http:// for 127.0.0.1 and localhost, https:// otherwise."
        ),
    )
    recommended_tag: Tag | None = Field(
        default="recommended",
        description="An alias tag offered first and preselected; null for none.",
    )
    releases: int = Field(default=1, ge=0, description="How many of the newest releases.")
    candidates: int = Field(default=0, ge=0, description="How many release candidates.")
    weeklies: int = Field(default=2, ge=0, description="How many of the newest weeklies.")
    dailies: int = Field(default=3, ge=0, description="How many of the newest dailies.")
    pins: tuple[Tag, ...] = Field(default=(), description="Tags always offered and kept.")
    patterns: TagPatterns = TagPatterns()

    @field_validator("repository")
    @classmethod
    def _has_registry_host(cls, value: str) -> str:
        host, _, path = value.partition("/")
        named = "." in host or ":" in host or host in ("localhost", LOCAL_ALIAS)
        if not path or not named:
            raise ValueError(
                f"{value!r} does not name its registry; write host[:port]/path, e.g. "
                f"registry.example.org/lab, or {LOCAL_ALIAS}/devlab/lab for the stack's own "
                "registry (list Docker Hub images under catalog.images instead)"
            )
        if not IMAGE_REF.match(value) or ":" in path or "@" in path:
            raise ValueError(f"{value!r} must be a repository without tag or digest")
        return value


class CatalogImage(_Strict):
    """An image offered as it is, by reference."""

    ref: ImageReference = Field(description="Image reference, e.g. registry/path:tag.")
    display_name: str | None = Field(
        default=None, description="Menu label; by default derived from the tag."
    )


class LabSize(_Strict):
    """A lab size: what a lab is promised (guarantee) and what it may use (limit)."""

    name: str = Field(description="Identifier used in user_options, e.g. `small`.")
    display_name: str | None = Field(default=None, description="Menu label; the name titled.")
    cpu_guarantee: float = Field(ge=0, description="Cores promised under contention.")
    cpu_limit: float = Field(gt=0, description="Cores the lab may use at most.")
    mem_guarantee: Memory = Field(description="Memory reserved, e.g. 512M.")
    mem_limit: Memory = Field(description="Memory the lab may use at most, e.g. 2G.")

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not SIZE_NAME.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, - and _ (max 32)")
        return value

    @model_validator(mode="after")
    def _guarantee_within_limit(self) -> LabSize:
        if self.cpu_guarantee > self.cpu_limit:
            raise ValueError(
                f"size {self.name!r}: cpu_guarantee {self.cpu_guarantee} exceeds "
                f"cpu_limit {self.cpu_limit}"
            )
        if self.mem_guarantee > self.mem_limit:
            raise ValueError(
                f"size {self.name!r}: mem_guarantee {format_memory(self.mem_guarantee)} "
                f"exceeds mem_limit {format_memory(self.mem_limit)}"
            )
        if self.mem_limit < 6 * 1024**2:
            raise ValueError(f"size {self.name!r}: Docker needs a mem_limit of at least 6M")
        return self

    @property
    def label(self) -> str:
        return self.display_name or self.name.replace("-", " ").replace("_", " ").title()

    @property
    def summary(self) -> str:
        """What the size gives, e.g. "0.5 to 1 core, 512 MB to 2 GB memory"."""
        cpu = (
            format_cpu(self.cpu_limit)
            if self.cpu_guarantee == self.cpu_limit
            else f"{self.cpu_guarantee:g} to {format_cpu(self.cpu_limit)}"
        )
        mem = (
            format_memory(self.mem_limit)
            if self.mem_guarantee == self.mem_limit
            else f"{format_memory(self.mem_guarantee)} to {format_memory(self.mem_limit)}"
        )
        return f"{cpu}, {mem} memory"


_GB = 1024**3
DEFAULT_SIZES = (
    LabSize(
        name="small", cpu_guarantee=0.5, cpu_limit=1, mem_guarantee=_GB // 2, mem_limit=2 * _GB
    ),
    LabSize(name="medium", cpu_guarantee=1, cpu_limit=2, mem_guarantee=_GB, mem_limit=4 * _GB),
    LabSize(name="large", cpu_guarantee=2, cpu_limit=4, mem_guarantee=2 * _GB, mem_limit=8 * _GB),
)


class PrepullConfig(_Strict):
    """The prepuller: keeps the menu's images on this machine so labs start fast."""

    interval_seconds: int = Field(
        default=600, ge=2, description="Seconds between checks of the registries."
    )
    remove_unlisted: bool = Field(
        default=True,
        description=(
            "Remove images the prepuller pulled once they leave the menu (never ones a "
            "running lab uses, never ones it did not pull)."
        ),
    )


class CatalogConfig(_Strict):
    """The lab-image menu and lab sizes users choose from at spawn."""

    images: tuple[CatalogImage, ...] = Field(default=(), description="Images offered by ref.")
    sources: tuple[ImageSource, ...] = Field(
        default=(), description="Registry repositories whose tags are offered by policy."
    )
    sizes: tuple[LabSize, ...] = Field(default=DEFAULT_SIZES, min_length=1)
    default_size: str | None = Field(
        default=None, description="Size used when none is chosen; the first size by default."
    )
    prepull: PrepullConfig = PrepullConfig()

    @model_validator(mode="after")
    def _consistent(self) -> CatalogConfig:
        require_unique("size name", [s.name for s in self.sizes])
        require_unique("image ref", [i.ref for i in self.images])
        require_unique("source repository", [s.repository for s in self.sources])
        names = [s.name for s in self.sizes]
        if self.default_size is not None and self.default_size not in names:
            raise ValueError(
                f"default_size {self.default_size!r} is not one of the sizes: {', '.join(names)}"
            )
        return self

    @property
    def default_size_name(self) -> str:
        return self.default_size or self.sizes[0].name

    @property
    def configured(self) -> bool:
        """Whether any image is configured; without, the locally built lab image is offered."""
        return bool(self.images or self.sources)


def require_unique(what: str, values: list[Any]) -> None:
    """Refuse a config list naming the same thing twice, saying which and what."""
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
