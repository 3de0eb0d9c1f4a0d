"""A borough's strategy workspace: priorities, localities, activities, targets."""

from common_outcomes.strategy.check import check_framework_pin, check_workspace
from common_outcomes.strategy.load import KINDS, Workspace, load_workspace

__all__ = ["KINDS", "Workspace", "check_framework_pin", "check_workspace", "load_workspace"]
