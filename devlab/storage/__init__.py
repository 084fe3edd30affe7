"""Homes and shared project space: pure provisioning plans and the adapter that applies them."""

from devlab.storage.plan import Directory, ProvisioningPlan, plan_for
from devlab.storage.provision import OwnershipConflict, apply_plan

__all__ = ["Directory", "OwnershipConflict", "ProvisioningPlan", "apply_plan", "plan_for"]
