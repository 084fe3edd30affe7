"""One start of a lab that reached ready, as both sides of the bench report it: through
the hub (devlab.bench.hub) and straight through the engine (devlab.bench.floor)."""

from __future__ import annotations

import dataclasses
from typing import Any

START_TIMEOUT = 180.0
POLL = 0.05  # the bench's own poll interval: it adds ~25 ms on average to the floor
# The lab's log line that marks its server listening (timeline mark "listening").
LISTENING = r"Jupyter Server .* is running at"


@dataclasses.dataclass
class Started:
    """One start that reached ready, with what was seen on the way."""

    marks: dict[str, float]
    container: Any = None  # floor starts: the docker SDK container

    @property
    def duration(self) -> float:
        end = self.marks.get("ready", self.marks.get("api"))
        assert end is not None
        return end - self.marks["request"]
