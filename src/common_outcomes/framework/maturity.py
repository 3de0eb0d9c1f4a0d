"""The maturity model of the system conditions: each condition (an outcome of the framework's
system layer) has features, each feature a descriptor per level (four by default: emerging,
developing, maturing, embedded) and the system indicators that evidence it.

The framework ships one (`maturity.yaml` beside its outcomes, so it is versioned with the
release); a borough may add local features in its workspace (`kind: maturity-features`).
Self-assessment rounds rate features against it (state/rounds.py); this module only reads and
checks it, with the file and line of every problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from common_outcomes.documents import Document, DocumentModel, Model
from common_outcomes.errors import Issues
from common_outcomes.ids import Slug

SYSTEM_LAYER = "system"


class MaturityLevel(Model):
    id: Slug
    name: str


DEFAULT_LEVELS = (
    MaturityLevel(id="emerging", name="Emerging"),
    MaturityLevel(id="developing", name="Developing"),
    MaturityLevel(id="maturing", name="Maturing"),
    MaturityLevel(id="embedded", name="Embedded"),
)


class FeatureEntry(Model):
    """One feature as written: its descriptor for every level, and its evidence."""

    feature: Slug = Field(description="The feature's id, unique across the whole model")
    name: str
    levels: dict[str, str] = Field(description="A descriptor for every level, by level id")
    evidence: tuple[Slug, ...] = Field(
        (), description="The system indicators that evidence the feature")


class ConditionEntry(Model):
    condition: Slug = Field(description="A system condition: an outcome of the system layer")
    features: tuple[FeatureEntry, ...]


class MaturityModelDocument(DocumentModel):
    """maturity.yaml in a framework release: the levels and each condition's features."""

    KIND: ClassVar[str] = "maturity-model"
    kind: Literal["maturity-model"]
    levels: tuple[MaturityLevel, ...] = DEFAULT_LEVELS
    conditions: tuple[ConditionEntry, ...]


class MaturityFeaturesDocument(DocumentModel):
    """A workspace's own features, added to the framework's model (its levels apply)."""

    KIND: ClassVar[str] = "maturity-features"
    kind: Literal["maturity-features"]
    conditions: tuple[ConditionEntry, ...]


class Feature(Model):
    id: Slug
    condition: Slug
    name: str
    descriptors: tuple[str, ...]  # one per level, in the levels' order
    evidence: tuple[Slug, ...]
    local: bool = False


class Condition(Model):
    id: Slug
    name: str
    features: tuple[Feature, ...]


class MaturityModel(Model):
    """The checked model: the levels in order, and each system condition's features."""

    levels: tuple[MaturityLevel, ...] = DEFAULT_LEVELS
    conditions: tuple[Condition, ...] = ()

    @property
    def features(self) -> tuple[Feature, ...]:
        return tuple(f for c in self.conditions for f in c.features)

    def feature(self, feature_id: str) -> Feature | None:
        return next((f for f in self.features if f.id == feature_id), None)

    def rank(self, level: str) -> int | None:
        """A level's place, 1 for the first (emerging); None for a level not in the model."""
        return next((i for i, x in enumerate(self.levels, 1) if x.id == level), None)

    def level_name(self, level: str) -> str:
        return next((x.name for x in self.levels if x.id == level), level)


def maturity_model(
    documents: Sequence[Document], local: Sequence[Document], conditions: Mapping[str, str],
    indicators: Iterable[str], local_indicators: Iterable[str], issues: Issues,
) -> MaturityModel:
    """The framework's model (`documents`: its one maturity-model file, if any) with the
    workspace's `local` features, checked. `conditions`: the system layer's outcomes (id to
    statement). Every problem goes to `issues` with its file and line; what is wrong is left
    out, so the rest can still be shown."""
    heads = [d for d in documents if isinstance(d.model, MaturityModelDocument)]
    for extra in heads[1:]:
        issues.error("maturity.duplicate-model", "A framework release has one maturity model; "
                     f"{heads[0].source.file} is already one.", extra.source.locate(("kind",)),
                     "Merge the two files.")
    levels: tuple[MaturityLevel, ...] = DEFAULT_LEVELS
    if heads:
        assert isinstance(heads[0].model, MaturityModelDocument)
        levels = heads[0].model.levels
    known = set(indicators)
    features: dict[str, list[Feature]] = {c: [] for c in conditions}
    seen: dict[str, str] = {}
    for doc, is_local in [*((d, False) for d in heads[:1]), *((d, True) for d in local)]:
        model = doc.model
        assert isinstance(model, MaturityModelDocument | MaturityFeaturesDocument)
        allowed = known | set(local_indicators) if is_local else known
        for i, entry in enumerate(model.conditions):
            at: tuple[str | int, ...] = ("conditions", i)
            if entry.condition not in conditions:
                issues.error("maturity.unknown-condition",
                             f"'{entry.condition}' is not a system condition of the framework.",
                             doc.source.locate((*at, "condition")),
                             f"system conditions are: {', '.join(sorted(conditions))}")
            for j, f in enumerate(entry.features):
                # Checked even under an unknown condition, so that one run reports all.
                found = _feature(f, entry.condition, levels, allowed, is_local, doc,
                                 (*at, "features", j), seen, issues)
                if found is not None and entry.condition in features:
                    features[entry.condition].append(found)
    return MaturityModel(levels=levels, conditions=tuple(
        Condition(id=c, name=name, features=tuple(features[c]))
        for c, name in conditions.items()))


def _feature(f: FeatureEntry, condition: str, levels: Sequence[MaturityLevel],
             indicators: set[str], is_local: bool, doc: Document,
             at: tuple[str | int, ...], seen: dict[str, str], issues: Issues
             ) -> Feature | None:
    where = doc.source.locate
    ok = True
    if f.feature in seen:
        issues.error("maturity.duplicate-feature",
                     f"Feature '{f.feature}' is declared twice; the first is at "
                     f"{seen[f.feature]}.", where((*at, "feature")),
                     "Give each feature its own id across the framework's model and yours.")
        ok = False
    else:
        seen[f.feature] = str(where((*at, "feature")))
    for level in levels:
        if not f.levels.get(level.id, "").strip():
            issues.error("maturity.missing-descriptor",
                         f"Feature '{f.feature}' has no descriptor for level '{level.id}'.",
                         where((*at, "levels")),
                         f"Describe every level: {', '.join(x.id for x in levels)}.")
            ok = False
    names = {x.id for x in levels}
    for written in f.levels:
        if written not in names:
            issues.error("maturity.unknown-level",
                         f"Feature '{f.feature}' describes '{written}', which is not a level of "
                         "the model.", where((*at, "levels", written)),
                         f"levels are: {', '.join(x.id for x in levels)}")
            ok = False
    for k, indicator in enumerate(f.evidence):
        if indicator not in indicators:
            issues.error("maturity.unknown-indicator",
                         f"Feature '{f.feature}' names '{indicator}' as evidence, which is not "
                         "a system indicator" + (" or a local indicator" if is_local else "")
                         + ".", where((*at, "evidence", k)),
                         "Name an indicator of the framework's system conditions.")
            ok = False
    if not ok:
        return None
    return Feature(id=f.feature, condition=condition, name=f.name,
                   descriptors=tuple(f.levels[x.id] for x in levels), evidence=f.evidence,
                   local=is_local)


MATURITY_KINDS: dict[str, type[DocumentModel]] = {
    MaturityFeaturesDocument.KIND: MaturityFeaturesDocument}
