"""Read a workspace folder: every *.yaml, dispatched on its `kind`, merged per kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from common_outcomes.documents import Document, DocumentModel, Found, ItemIndex, read_document
from common_outcomes.errors import Issues, Location, UserError, display_path
from common_outcomes.geography.models import GeographyDocument
from common_outcomes.strategy.models import (
    WORKSPACE_KINDS,
    ActivitiesDocument,
    Activity,
    Baseline,
    IndicatorsDocument,
    LocalIndicator,
    LocalitiesDocument,
    Locality,
    Partner,
    PartnersDocument,
    PrioritiesDocument,
    Priority,
    Target,
    TargetsDocument,
    WorkspaceDocument,
)

KINDS: dict[str, type[DocumentModel]] = {
    **WORKSPACE_KINDS, GeographyDocument.KIND: GeographyDocument}
ONE_PER_WORKSPACE = ("workspace", "geography")
# Folders of a workspace that hold data or other releases, not the strategy's own YAML.
INCOMING = "incoming"  # partner files waiting to be loaded (outcomes synth writes here)
SYNTH_TRUTH = "synth-truth"  # what synthetic data really is, kept apart from the sources
FRAMEWORKS = "frameworks"  # framework releases the workspace brings with it
HISTORY = "history"  # each change to the strategy, with why (strategy/history.py)
NOT_STRATEGY = frozenset({INCOMING, SYNTH_TRUTH, FRAMEWORKS, HISTORY})
T = TypeVar("T")


@dataclass(frozen=True)
class Workspace:
    """Everything a workspace folder declares, with where each item was written."""

    folder: Path
    settings: WorkspaceDocument
    settings_source: Document
    geography: GeographyDocument | None
    partners: tuple[Partner, ...]
    localities: tuple[Locality, ...]
    locality_notes: tuple[str, ...]
    priorities: tuple[Priority, ...]
    activities: tuple[Activity, ...]
    indicators: tuple[LocalIndicator, ...]
    baselines: tuple[tuple[Baseline, Found], ...]
    targets: tuple[tuple[Target, Found], ...]
    index: ItemIndex = field(repr=False)
    # Documents of kinds another package declares (for example data sources), as read.
    extras: tuple[Document, ...] = ()

    def locate(self, model: str, item_id: str, *sub: str | int) -> Location | None:
        return self.index.locate(model, item_id, *sub)

    def partner(self, partner_id: str) -> Partner | None:
        return next((p for p in self.partners if p.id == partner_id), None)


def workspace_files(folder: Path) -> list[Path]:
    """The YAML files of a workspace's strategy: not those in hidden folders (such as
    .outcomes) nor in its data and framework folders."""
    return sorted(
        p for p in folder.rglob("*.y*ml")
        if p.suffix in {".yaml", ".yml"}
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.relative_to(folder).parts[0] not in NOT_STRATEGY
    )


def load_workspace(
    folder: Path, issues: Issues, extra_kinds: Mapping[str, type[DocumentModel]] | None = None
) -> Workspace | None:
    """Read and merge a workspace; None when it cannot be assembled (see `issues`).

    `extra_kinds` lets a package above the strategy (the data sources) keep its own kinds
    in the same folder without the strategy knowing them.
    """
    kinds = {**KINDS, **(extra_kinds or {})}
    if not folder.is_dir():
        raise UserError(f"There is no workspace folder at {folder}.")
    files = workspace_files(folder)
    if not files:
        raise UserError(f"{folder} holds no YAML files; a workspace needs at least a "
                        "workspace.yaml.")
    documents = [
        doc for path in files
        if (doc := read_document(path, kinds, issues, display_path(path))) is not None
    ]
    by_kind: dict[str, list[Document]] = {}
    for doc in documents:
        by_kind.setdefault(doc.model.KIND, []).append(doc)
    for kind in ONE_PER_WORKSPACE:
        extra = by_kind.get(kind, [])[1:]
        for doc in extra:
            first = by_kind[kind][0].source.file
            issues.error("workspace.duplicate-kind",
                         f"A workspace has one '{kind}' file; {first} is already one.",
                         doc.source.locate(("kind",)), "Merge the two files.")
    heads = by_kind.get("workspace", [])
    if not heads:
        if not issues.has_errors:
            issues.error("workspace.missing", "The folder has no 'kind: workspace' file.",
                         Location(display_path(folder)),
                         "Add workspace.yaml with the borough and the framework it uses.")
        return None
    index = ItemIndex()
    for doc in documents:
        index.add_document(doc, issues)
    head = heads[0].model
    assert isinstance(head, WorkspaceDocument)
    geography = by_kind.get("geography", [None])[0]

    return Workspace(
        folder=folder,
        settings=head,
        settings_source=heads[0],
        geography=geography.model if isinstance(geography, Document)
        and isinstance(geography.model, GeographyDocument) else None,
        partners=_items(by_kind, PartnersDocument.KIND, "partners", Partner),
        localities=_items(by_kind, LocalitiesDocument.KIND, "localities", Locality),
        locality_notes=tuple(
            d.model.note for d in by_kind.get(LocalitiesDocument.KIND, [])
            if isinstance(d.model, LocalitiesDocument) and d.model.note
        ),
        priorities=tuple(sorted(_items(by_kind, PrioritiesDocument.KIND, "priorities", Priority),
                                key=lambda p: p.order)),
        activities=_items(by_kind, ActivitiesDocument.KIND, "activities", Activity),
        indicators=_items(by_kind, IndicatorsDocument.KIND, "indicators", LocalIndicator),
        baselines=_located(by_kind, TargetsDocument.KIND, "baselines", Baseline),
        targets=_located(by_kind, TargetsDocument.KIND, "targets", Target),
        index=index,
        extras=tuple(d for d in documents if d.model.KIND not in KINDS),
    )


def _items(
    by_kind: dict[str, list[Document]], kind: str, attr: str, item: type[T]
) -> tuple[T, ...]:
    """The items of one list field, merged over every file of a kind, in file order."""
    return tuple(x for d in by_kind.get(kind, []) for x in getattr(d.model, attr)
                 if isinstance(x, item))


def _located(
    by_kind: dict[str, list[Document]], kind: str, attr: str, item: type[T]
) -> tuple[tuple[T, Found], ...]:
    """As `_items`, each with where it was declared (for items that have no id)."""
    return tuple(
        (x, Found(d.source, (attr, i)))
        for d in by_kind.get(kind, []) for i, x in enumerate(getattr(d.model, attr))
        if isinstance(x, item)
    )
