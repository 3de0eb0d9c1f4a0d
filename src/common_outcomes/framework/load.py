"""Find and load framework releases: a folder of YAML documents per id and release.

Shipped releases live in this package (framework/data/<id>/<release>/); a user can
add others by pointing at more folders laid out the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common_outcomes.documents import Document, ItemIndex, read_document
from common_outcomes.errors import Issues, Location, display_path
from common_outcomes.framework.maturity import MaturityModelDocument
from common_outcomes.framework.models import (
    FRAMEWORK_KINDS,
    Framework,
    FrameworkDocument,
    OutcomesDocument,
)

SHIPPED = Path(__file__).parent / "data"


@dataclass(frozen=True)
class LoadedFramework:
    framework: Framework
    index: ItemIndex
    folder: Path
    # The release's maturity model as read; checked with a workspace's own features
    # (framework.maturity.maturity_model), so each problem is reported once.
    maturity: tuple[Document, ...] = ()


def available_frameworks(search: Sequence[Path] = ()) -> dict[str, Path]:
    """Every release that can be pinned, as 'id@release' -> its folder."""
    found: dict[str, Path] = {}
    for root in (*search, SHIPPED):
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.glob("*/*") if (p / "framework.yaml").is_file()):
            found.setdefault(f"{folder.parent.name}@{folder.name}", folder)
    return found


def load_framework(folder: Path, issues: Issues) -> LoadedFramework | None:
    """Read a release folder and check it hangs together; problems go to `issues`."""
    documents = [
        doc
        for path in sorted(folder.glob("*.yaml"))
        if (doc := read_document(path, FRAMEWORK_KINDS, issues, display_path(path))) is not None
    ]
    heads = [d for d in documents if isinstance(d.model, FrameworkDocument)]
    if len(heads) != 1:
        issues.error("framework.header", f"A framework folder needs exactly one "
                     f"'kind: framework' file; {display_path(folder)} has {len(heads)}.",
                     Location(display_path(folder)))
        return None
    head = heads[0].model
    assert isinstance(head, FrameworkDocument)
    index = ItemIndex()
    for doc in documents:
        index.add_document(doc, issues)
    outcome_docs = [d for d in documents if isinstance(d.model, OutcomesDocument)]
    _check_references(head, outcome_docs, issues)
    framework = Framework(
        id=head.id,
        release=head.release,
        title=head.title,
        description=head.description,
        layers=head.layers,
        domains=head.domains,
        supporting_families=head.supporting_families,
        outcomes=tuple(
            o for d in outcome_docs if isinstance(d.model, OutcomesDocument)
            for o in d.model.outcomes
        ),
    )
    if head.id != folder.parent.name or head.release != folder.name:
        issues.error("framework.folder-mismatch",
                     f"The framework says it is {framework.pin} but lives in "
                     f"{folder.parent.name}/{folder.name}.", heads[0].source.locate(("id",)),
                     "Folder names must be <id>/<release>.")
    return LoadedFramework(framework, index, folder, tuple(
        d for d in documents if isinstance(d.model, MaturityModelDocument)))


def _check_references(
    head: FrameworkDocument, outcome_docs: Sequence[Document], issues: Issues
) -> None:
    layers = {layer.id for layer in head.layers}
    domains = {domain.id for domain in head.domains}
    sf = {s.id for s in head.supporting_families}
    for doc in outcome_docs:
        assert isinstance(doc.model, OutcomesDocument)
        for i, outcome in enumerate(doc.model.outcomes):
            at = ("outcomes", i)
            if outcome.layer not in layers:
                issues.error("ref.unknown-layer", f"Outcome '{outcome.id}' names unknown layer "
                             f"'{outcome.layer}'.", doc.source.locate((*at, "layer")),
                             f"layers are: {', '.join(sorted(layers))}")
            if outcome.domain not in domains:
                issues.error("ref.unknown-domain", f"Outcome '{outcome.id}' names unknown domain "
                             f"'{outcome.domain}'.", doc.source.locate((*at, "domain")),
                             f"domains are: {', '.join(sorted(domains))}")
            for j, ind in enumerate(outcome.indicators):
                for k, ref in enumerate(ind.supporting_families):
                    if ref not in sf:
                        issues.error(
                            "ref.unknown-supporting-families",
                            f"Indicator '{ind.id}' names unknown Supporting Families outcome "
                            f"'{ref}'.",
                            doc.source.locate((*at, "indicators", j, "supporting_families", k)),
                            f"known: {', '.join(sorted(sf))}")


def release_to_check_against(pin: str, available: dict[str, Path]) -> str | None:
    """The pinned release, or else the newest of the same framework.

    An unusable pin is already an error; checking the rest against the nearest
    release still shows every other problem in one run instead of hiding them.
    """
    if pin in available:
        return pin
    name = pin.partition("@")[0]
    same = [p for p in available if p.partition("@")[0] == name]
    return max(same, key=_release_key) if same else None


def _release_key(pin: str) -> tuple[tuple[int, int, str], ...]:
    """'x@1.10' sorts after 'x@1.9'; numeric parts before textual ones."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in pin.partition("@")[2].split("."))
