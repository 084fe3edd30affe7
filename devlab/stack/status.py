"""What `devlab status` reports about a stack, as one typed model.

The CLI prints it, `devlab status --json` is its JSON, the pytest plugin's
`devlab.status()` and the bench read its fields: one shape, checked by the type checker
instead of string keys read in four places.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from devlab.catalog.state import ImageRecord


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceStatus(_Frozen):
    state: str  # the engine's: running, exited, restarting...; absent when never created
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")


ABSENT = ServiceStatus(state="absent", health=None)


class LabStatus(_Frozen):
    user: str | None  # from the container's label; None on a container devlab did not label
    container: str
    state: str  # the engine's state of the container, whatever the hub believes


class StackStatus(_Frozen):
    stack: str
    images: tuple[ImageRecord, ...] | None  # the prepuller's menu; None until it publishes
    hub_url: str
    oauth_url: str | None  # only while the mock GitHub runs
    cilogon_url: str | None = None  # only while the mock CILogon runs
    storage_mode: str | None  # volume or nfs; None before the first `up`
    nfs_url: str | None
    nfs_access: str | None  # who can reach the nfs service, in words
    state_dir: str
    compose_file: str
    config: str
    hub_image: str | None
    lab_image: str | None
    services: dict[str, ServiceStatus]
    labs: tuple[LabStatus, ...]
    # `devlab status` adds the disk usage it measures inside the hub (storage.usage's JSON);
    # the scan costs an exec, so other readers go without it.
    disk: dict[str, Any] | None = None

    def service(self, name: str) -> ServiceStatus:
        return self.services.get(name, ABSENT)

    @property
    def healthy(self) -> bool:
        """Every service runs, and reports healthy where it has a healthcheck."""
        return all(service.ok for service in self.services.values())

    def render(self) -> list[str]:
        """The lines `devlab status` prints (the disk's come from its own report)."""
        lines = [f"stack {self.stack}: {self.hub_url} (storage {self.storage_mode})"]
        lines += [
            f"  {name:<10} {svc.state:<10} {svc.health or '-'}"
            for name, svc in self.services.items()
        ]
        lines += [f"  lab {lab.user:<10} {lab.state}" for lab in self.labs]
        if self.nfs_access:
            lines.append(f"nfs: {self.nfs_access}")
        return lines
