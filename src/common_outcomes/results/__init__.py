"""The results table: one row per indicator, area, period and breakdown (results/table.py)."""
