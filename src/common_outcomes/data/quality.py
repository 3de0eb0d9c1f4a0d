"""Data quality by source, partner and period: completeness, validity, timeliness and
duplicates, from the store's current versions and the load audit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common_outcomes.data.declarations import Identifier, SourceDeclaration
from common_outcomes.data.store import Store
from common_outcomes.periods import parse_period


@dataclass(frozen=True)
class QualityRow:
    source: str
    partner: str
    period: str
    version_id: str
    rows: int
    completeness: float  # share of cells filled, over the declared columns
    least_complete: str  # the column with most gaps
    validity: float  # rows accepted / rows read, for the file that holds this period
    duplicates: int  # rows refused as duplicates of an earlier row in that file
    without_area: int  # rows of this period whose postcode found no small area
    due: date | None
    loaded: date
    days_late: int | None


def quality(store: Store, sources: dict[str, SourceDeclaration]) -> list[QualityRow]:
    problems: dict[str, Counter[str]] = {}
    for event in store.audit_events():
        if event.get("event") == "problems":
            codes = event.get("codes")
            problems[str(event["version_id"])] = Counter(codes if isinstance(codes, dict) else {})
    rows: list[QualityRow] = []
    for source_id, decl in sorted(sources.items()):
        for part in _parts_by_version(store, source_id):
            version = store.version(part[0])
            m = version.manifest
            table = pa.concat_tables([pq.read_table(f) for f in part[1]])
            for period in part[2]:
                here = table.filter(pc.equal(table.column("period"), period))
                filled = {name: 1 - here.column(name).null_count / max(here.num_rows, 1)
                          for name in here.column_names if name != "period"}
                worst = min(filled, key=lambda k: filled[k]) if filled else ""
                due = _due(decl, period)
                loaded = datetime.fromisoformat(m.loaded_at).date()
                rows.append(QualityRow(
                    source_id, m.partner, period, m.version_id, here.num_rows,
                    sum(filled.values()) / max(len(filled), 1), worst,
                    m.rows_accepted / max(m.rows_read, 1),
                    problems.get(m.version_id, Counter())["row.duplicate-key"],
                    _without_area(here, decl), due, loaded,
                    (loaded - due).days if due else None))
    return rows


def _without_area(rows: pa.Table, decl: SourceDeclaration) -> int:
    """Rows placed in no small area by any of their postcodes (0 for a source not placed by
    postcode). Counted per period from the rows, so it agrees with the load's count."""
    columns = [f"{c.name}_lsoa" for c in decl.columns if c.identifier is Identifier.POSTCODE
               and f"{c.name}_lsoa" in rows.column_names]
    if not columns:
        return 0
    placed = pc.is_valid(rows.column(columns[0]))
    for name in columns[1:]:
        placed = pc.or_(placed, pc.is_valid(rows.column(name)))
    total: int = rows.num_rows
    return total - int(pc.sum(placed).as_py() or 0)


def _parts_by_version(store: Store, source: str) -> list[tuple[str, list[str], list[str]]]:
    """(version, its current part files, the periods it is current for), one per version."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for part in store.current_files(source):
        files, periods = grouped.setdefault(part.version_id, ([], []))
        files.append(str(part.path))
        periods.extend(p for p in part.periods if p not in periods)
    return [(v, files, sorted(periods)) for v, (files, periods) in sorted(grouped.items())]


def _due(decl: SourceDeclaration, period: str) -> date | None:
    if decl.period is None or decl.schedule is None:
        return None
    try:
        end = parse_period(period, decl.period.type).end
    except ValueError:
        return None
    return end + timedelta(days=decl.schedule.due_days)
