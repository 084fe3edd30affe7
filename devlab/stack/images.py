"""Tags for the images devlab builds, derived from what goes into them.

A tag names the content of its build inputs, so `devlab up` rebuilds exactly when an
image would differ from the one present, and never starts a hub older than its code.
Inputs are files of the devlab package (devlab/platform holds the build contexts), which
are the same in a checkout and in an installed wheel: so are the tags.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import devlab
from devlab.config import LabBuildPaths
from devlab.platform import PACKAGE_DIR


@dataclass(frozen=True)
class BuiltImage:
    service: str  # the compose service that builds it
    repository: str
    inputs: tuple[str, ...]  # paths relative to the package; directories recurse
    profile: str | None = None  # built only when this compose profile is active
    excludes: tuple[str, ...] = ()  # paths under `inputs` the build context leaves out


# The hub's build context is the package itself, minus the other images' files and the
# stack's own (devlab/.dockerignore says the same to the engine).
HUB = BuiltImage(
    "hub",
    "devlab/hub",
    (
        ".",
        "platform/__init__.py",
        "platform/defaults.py",
        "platform/images/hub",
        "platform/images/common",
        "platform/tutorials",
    ),
    excludes=("platform",),
)
LAB = BuiltImage("lab", "devlab/lab", ("platform/images/lab", "platform/images/common"))
NFS = BuiltImage("nfs", "devlab/nfs", ("platform/images/nfs",))
REGISTRY = BuiltImage(
    "registry", "devlab/registry", ("platform/images/registry",), profile="registry"
)
BUILT_IMAGES = (HUB, LAB, NFS, REGISTRY)
_SKIPPED = ("__pycache__", "node_modules")


def _files(root: Path, inputs: Iterable[str], excludes: Iterable[str] = ()) -> list[Path]:
    """The files of `inputs`; an exclude applies to the inputs that are not inside it."""
    found: set[Path] = set()
    for entry in inputs:
        path = root / entry
        skip = [root / e for e in excludes if not path.is_relative_to(root / e)]
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix != ".pyc"
                and not any(part in _SKIPPED for part in p.relative_to(root).parts)
                and not any(p.is_relative_to(s) for s in skip)
            )
        elif path.is_file():
            found.add(path)
    return sorted(found)


def content_hash(
    root: Path, inputs: Iterable[str], base_image: str, excludes: Iterable[str] = ()
) -> str:
    digest = hashlib.sha256(base_image.encode())
    for path in _files(root, inputs, excludes):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tag(image: BuiltImage, base_image: str, root: Path = PACKAGE_DIR) -> str:
    digest = content_hash(root, image.inputs, base_image, image.excludes)
    return f"{image.repository}:{devlab.__version__}-{digest}"


# A project's own lab image (lab.build), built by compose service project-lab.
PROJECT_LAB_REPOSITORY = "devlab/project-lab"


def project_lab_tag(build: LabBuildPaths, lab_tag: str) -> str:
    """The tag of a project's lab image: its context's files, its Dockerfile's name and
    devlab's lab image it starts from, so a new devlab lab rebuilds it too."""
    digest = content_hash(build.context, (".",), f"{lab_tag} {build.dockerfile}")
    return f"{PROJECT_LAB_REPOSITORY}:{devlab.__version__}-{digest}"
