"""The shared Common Outcomes Framework: layers x domains -> outcomes -> indicators."""

from common_outcomes.framework.load import available_frameworks, load_framework
from common_outcomes.framework.models import Framework, Indicator, Outcome

__all__ = ["Framework", "Indicator", "Outcome", "available_frameworks", "load_framework"]
