"""YAML documents with `kind` and `version` headers, read into immutable typed models.

Reading a document never raises for bad input: it returns what it could read and the
issues it found, each with file, line and column. Positions are kept per path inside
the document (("activities", 3, "outcome_measures") -> line 41, column 7), so a
later cross-check can point at the exact line of the item it complains about.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common_outcomes.errors import Issue, Issues, Location, Severity

PathKey = tuple[str | int, ...]


class Model(BaseModel):
    """Base of every model read from YAML: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class DocumentModel(Model):
    """A whole YAML file. Subclasses set `KIND` and the format versions they read."""

    KIND: ClassVar[str]
    VERSIONS: ClassVar[tuple[int, ...]] = (1,)

    kind: str
    version: int


@dataclass(frozen=True)
class SourceMap:
    """Where each path of a document's data starts in its file."""

    file: str
    positions: Mapping[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int] = ()) -> Location:
        """The location of `path`, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.positions:
                line, column = self.positions[key]
                return Location(self.file, line, column)
            key = key[:-1]
        line, column = self.positions.get((), (1, 1))
        return Location(self.file, line, column)


@dataclass(frozen=True)
class Document:
    """A document that parsed and validated: its model and where its parts came from."""

    model: DocumentModel
    source: SourceMap


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


# libyaml's C loader when PyYAML was built with it (about ten times faster on a geography file);
# the pure-Python one otherwise. Both give nodes with marks and construct scalars safely.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Composer(_SafeLoader):  # type: ignore[valid-type, misc]
    """A safe loader that keeps node marks; constructs scalars with YAML's safe rules."""


def _to_data(
    node: Node, loader: _Composer, path: PathKey, positions: dict[PathKey, tuple[int, int]],
    issues: Issues, file: str,
) -> Any:
    positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, MappingNode | SequenceNode) and node.tag not in _PLAIN_TAGS:
        # Scalars are built by SafeLoader, which refuses unsafe tags; collections are
        # walked here, so refuse e.g. !!python/object/apply explicitly.
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag} is not allowed", node.start_mark)
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int) or isinstance(key, bool):
                key = str(key)
            child = (*path, key)
            if key in result:
                issues.error(
                    "yaml.duplicate-key",
                    f"Key '{key}' appears twice in the same mapping.",
                    Location(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                    "Remove or rename one of them; YAML would silently keep only the last.",
                )
            positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _to_data(value_node, loader, child, positions, issues, file)
        return result
    if isinstance(node, SequenceNode):
        return [
            _to_data(item, loader, (*path, i), positions, issues, file)
            for i, item in enumerate(node.value)
        ]
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, file: str, issues: Issues) -> tuple[Any, SourceMap] | None:
    """Parse one YAML document, recording the position of every key and item."""
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
        if node is None:
            issues.error("yaml.empty", "The file is empty.", Location(file, 1, 1),
                         "Start it with 'kind:' and 'version:' lines.")
            return None
        positions: dict[PathKey, tuple[int, int]] = {}
        data = _to_data(node, loader, (), positions, issues, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = (exc.problem or exc.context or "invalid YAML").rstrip(".")
        issues.error("yaml.syntax", f"The YAML does not parse: {problem}.", where,
                     "Check indentation, colons and quotes on this line and the one above.")
        return None
    except yaml.YAMLError as exc:
        issues.error("yaml.syntax", f"The YAML does not parse: {exc}.", Location(file))
        return None
    finally:
        loader.dispose()
    return data, SourceMap(file, positions)


_CODES = {
    "extra_forbidden": "schema.unknown-key",
    "missing": "schema.missing-field",
}


def _field_name(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(document)"


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys allowed at the mapping that holds `loc`'s last key, for spelling hints."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        current = _model_in(fields[part].annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as `tuple[Activity, ...] | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def validation_issues(
    exc: ValidationError, model: type[BaseModel], source: SourceMap
) -> list[Issue]:
    """Turn pydantic's errors into issues that point at the offending line."""
    found: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        code = _CODES.get(err["type"], "schema.invalid-value")
        name = _field_name(loc)
        hint: str | None = None
        if code == "schema.unknown-key":
            known = _known_keys(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = f"Unknown key '{loc[-1]}'."
            hint = f"did you mean '{close[0]}'?" if close else (
                f"allowed here: {', '.join(known)}" if known else None)
        elif code == "schema.missing-field":
            message = f"Required field '{loc[-1]}' is missing."
            hint = f"add '{loc[-1]}:' to this item"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            message = f"'{name}': {msg[0].lower()}{msg[1:]}".rstrip(".") + "."
        found.append(Issue(code, message, Severity.ERROR, source.locate(loc), hint))
    return found


def read_document(
    path: Path,
    kinds: Mapping[str, type[DocumentModel]],
    issues: Issues,
    display: str | None = None,
) -> Document | None:
    """Read one file into the model its `kind` names; problems go to `issues`."""
    file = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        issues.error("yaml.encoding", f"The file is not UTF-8 (byte {exc.start}).",
                     Location(file), "Save it as UTF-8.")
        return None
    except OSError as exc:
        issues.error("file.unreadable", f"The file cannot be read: {exc.strerror}.",
                     Location(file))
        return None
    parsed = parse_yaml(text, file, issues)
    if parsed is None:
        return None
    data, source = parsed
    model = _header_model(data, source, kinds, issues)
    if model is None:
        return None
    try:
        return Document(model.model_validate(data), source)
    except ValidationError as exc:
        issues.extend(validation_issues(exc, model, source))
        return _salvage(data, source, model, exc)


def _salvage(
    data: dict[str, Any], source: SourceMap, model: type[DocumentModel], exc: ValidationError
) -> Document | None:
    """Keep what is valid in a document whose errors are unknown keys or bad list items.

    One bad activity, or one misspelt key, should not hide the rest of the file from
    the cross-checks (their issues would vanish and the user would fix the workspace in
    rounds). Unknown keys are dropped (already reported); list items with errors are
    dropped and the positions re-keyed so later issues still point at the right lines.
    """
    kept = copy.deepcopy(data)
    bad: set[tuple[str, int]] = set()
    for err in exc.errors():
        loc = err["loc"]
        if err["type"] == "extra_forbidden":
            _delete(kept, loc)
        elif len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            bad.add((loc[0], loc[1]))
        else:
            return None
    renumber: dict[tuple[str, int], int] = {}
    for name in {f for f, _ in bad}:
        items = kept.get(name)
        if not isinstance(items, list):
            return None
        survivors = [i for i in range(len(items)) if (name, i) not in bad]
        kept[name] = [items[i] for i in survivors]
        renumber.update({(name, old): new for new, old in enumerate(survivors)})
    positions: dict[PathKey, tuple[int, int]] = {}
    for path, where in source.positions.items():
        if len(path) >= 2 and isinstance(path[0], str) and isinstance(path[1], int):
            key = (path[0], path[1])
            if key in bad:
                continue
            if key in renumber:
                path = (path[0], renumber[key], *path[2:])
        positions[path] = where
    try:
        return Document(model.model_validate(kept), SourceMap(source.file, positions))
    except ValidationError:
        return None


def _delete(data: Any, loc: Sequence[Any]) -> None:
    """Remove the key at `loc` (an unknown key pydantic reported) from nested data."""
    for part in loc[:-1]:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(data, dict):
        data.pop(loc[-1], None)


def _header_model(
    data: Any, source: SourceMap, kinds: Mapping[str, type[DocumentModel]], issues: Issues
) -> type[DocumentModel] | None:
    if not isinstance(data, dict):
        issues.error("yaml.not-mapping", "The file must be a mapping of keys to values.",
                     source.locate(), "Start it with 'kind:' and 'version:' lines.")
        return None
    kind = data.get("kind")
    if kind is None:
        issues.error("header.missing-kind", "The file has no 'kind:' header.", source.locate(),
                     f"add one of: {', '.join(sorted(kinds))}")
        return None
    if kind not in kinds:
        close = difflib.get_close_matches(str(kind), list(kinds), n=1)
        issues.error("header.unknown-kind", f"Unknown kind '{kind}'.",
                     source.locate(("kind",)),
                     f"did you mean '{close[0]}'?" if close else
                     f"expected one of: {', '.join(sorted(kinds))}")
        return None
    model = kinds[kind]
    version = data.get("version")
    if version is None:
        issues.error("header.missing-version", "The file has no 'version:' header.",
                     source.locate(("kind",)), f"add 'version: {max(model.VERSIONS)}'")
        return None
    if version not in model.VERSIONS:
        issues.error("header.unsupported-version",
                     f"Version {version!r} of kind '{kind}' is not one this release reads.",
                     source.locate(("version",)),
                     f"supported: {', '.join(str(v) for v in model.VERSIONS)}")
        return None
    return model


@dataclass(frozen=True)
class Found:
    """Where one identified item was declared."""

    source: SourceMap
    path: PathKey

    def locate(self, *sub: str | int) -> Location:
        return self.source.locate((*self.path, *sub))


class ItemIndex:
    """Every item with an `id`, by model name, with where it was declared.

    Built by walking documents, so any model with an `id` field is indexed without
    per-kind code; a second item of the same model and id is a duplicate.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Found] = {}

    def add_document(self, document: Document, issues: Issues) -> None:
        self._walk(document.model, document.source, (), issues)

    def _walk(self, model: BaseModel, source: SourceMap, path: PathKey, issues: Issues) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            items = value if isinstance(value, tuple) else (value,)
            for i, item in enumerate(items):
                if not isinstance(item, BaseModel):
                    continue
                item_path = (*path, name, i) if isinstance(value, tuple) else (*path, name)
                self._register(item, source, item_path, issues)
                self._walk(item, source, item_path, issues)

    def _register(self, item: BaseModel, source: SourceMap, path: PathKey, issues: Issues) -> None:
        item_id = getattr(item, "id", None)
        if not isinstance(item_id, str):
            return
        key = (type(item).__name__, item_id)
        here = Found(source, path)
        if key in self._items:
            first = self._items[key].locate("id")
            issues.error(
                "ref.duplicate-id",
                f"{_label(key[0])} id '{item_id}' is declared twice; the first is at {first}.",
                here.locate("id"),
                "Give each item its own id.",
            )
            return
        self._items[key] = here

    def get(self, model_name: str, item_id: str) -> Found | None:
        return self._items.get((model_name, item_id))

    def locate(self, model_name: str, item_id: str, *sub: str | int) -> Location | None:
        found = self._items.get((model_name, item_id))
        return found.locate(*sub) if found else None

    def ids(self, model_name: str) -> list[str]:
        return [i for (m, i) in self._items if m == model_name]


def _label(model_name: str) -> str:
    """'LocalIndicator' -> 'Local indicator'."""
    words: list[str] = []
    for ch in model_name:
        if ch.isupper() and words:
            words.append(" ")
        words.append(ch.lower() if words else ch)
    return "".join(words)


class _Dumper(yaml.SafeDumper):
    """Block style for structure, flow style for small flat records (one per line)."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                    flow_style=flat and len(data) <= 4)


_Dumper.add_representer(dict, _represent_dict)


def dump_document(model: DocumentModel, header_comment: str | None = None) -> str:
    """YAML text for a document, keys in model order, optional fields left out when unset."""
    data = model.model_dump(mode="json", exclude_none=True)
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if header_comment:
        comment = "".join(f"# {line}\n" for line in header_comment.splitlines())
        return comment + text
    return text
