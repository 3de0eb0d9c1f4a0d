"""The indicator engine: definitions -> a plan -> sqlglot trees -> SQL for an engine -> results.

Stage one runs in the engine (DuckDB embedded; Spark later): every definition on a source is
counted in one pass, at the finest level (small area x month). Stage two rolls those counts up
in Arrow to wards, localities and the borough, and to every period type (each is a union of
months), then the statistics, comparisons and disclosure control are applied on whole columns.
"""

from common_outcomes.engine.run import Computed, Progress, Scope, compute, explain, why_empty

# What the layers above use of the engine; the modules inside it are its own.
__all__ = ["Computed", "Progress", "Scope", "compute", "explain", "why_empty"]
