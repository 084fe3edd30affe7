"""Tags for the images devlab builds, derived from what goes into them.

A tag names the content of its build inputs, so `devlab up` rebuilds exactly when an
image would differ from the one present, and never starts a hub older than its code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import devlab


@dataclass(frozen=True)
class BuiltImage:
    service: str  # the compose service that builds it
    repository: str
    inputs: tuple[str, ...]  # paths relative to the project dir; directories recurse
    profile: str | None = None  # built only when this compose profile is active


HUB = BuiltImage(
    "hub",
    "devlab/hub",
    ("images/hub", "images/common", "devlab", "pyproject.toml", "README.md"),
)
LAB = BuiltImage("lab", "devlab/lab", ("images/lab", "images/common"))
NFS = BuiltImage("nfs", "devlab/nfs", ("images/nfs",))
REGISTRY = BuiltImage("registry", "devlab/registry", ("images/registry",), profile="registry")
BUILT_IMAGES = (HUB, LAB, NFS, REGISTRY)


def _files(root: Path, inputs: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for entry in inputs:
        path = root / entry
        if path.is_dir():
            found.extend(
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )
        elif path.is_file():
            found.append(path)
    return sorted(found)


def content_hash(root: Path, inputs: Iterable[str], base_image: str) -> str:
    digest = hashlib.sha256(base_image.encode())
    for path in _files(root, inputs):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tag(image: BuiltImage, root: Path, base_image: str) -> str:
    return f"{image.repository}:{devlab.__version__}-{content_hash(root, image.inputs, base_image)}"
