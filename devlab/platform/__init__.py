"""The stack's own files, shipped inside the package so an installed devlab runs anywhere.

compose.yaml, the image build contexts (images/) and the default platform and hub
configs (config/). A checkout and an installed wheel hold the same files here, so both
build images with the same content-hash tags.
"""

from pathlib import Path

PLATFORM_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = PLATFORM_DIR.parent
DEFAULT_CONFIG = PLATFORM_DIR / "config" / "devlab.yaml"
