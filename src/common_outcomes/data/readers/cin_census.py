"""CIN census XML: the DfE children in need census as an LA submits it (Message > Header,
Children > Child > ChildIdentifiers, ChildCharacteristics, CINdetails ...).

Structure, element names and code lists follow DfE's "Children in need census: business and
technical specification" (2024 to 2025 and 2025 to 2026, where <Sex> M/F/U replaced
<GenderCurrent> 0/1/2/9; both are read) and its schema; rules with a DfE number are DfE's
validation rules of the same name. Learnt from DfE's specification and the open
validators' readings of it (data-to-insight/csc-validator-be-cin; SocialFinanceDigitalLabs/
liia-tools' CIN schemas); nothing copied.

One file holds many tables; a source takes one (`Part.table`), mapped to the Standard
Safeguarding Dataset's table of the same content, with the SSD's field names, so that a
definition reading an SSD extract reads the census unchanged. The file is parsed as a stream
with expat: one <Child> at a time is held in memory, then dropped. A document type
declaration is refused before anything is expanded (no entities, no external files or DTDs,
no network), as defusedxml does. Every problem names the XML path and line of the element
(or where a missing one belongs); a record with a problem is set aside as a `BadRow` for each
problem, and the source's policy (reject or quarantine) decides the rest.

Keys the census lacks are made from what identifies the record in it (documented in
docs/loading.md): an episode is its child and referral date ('<LAchildID>/<CINreferralDate>'),
an assessment its episode and start date, and so on. They hold the child's id, so their
columns are declared `record_id` and pseudonymised at the door under their own names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import IO
from xml.parsers import expat

import pyarrow as pa

from common_outcomes.data.declarations import Column, ColumnType, Identifier
from common_outcomes.data.readers.base import (
    BadRow,
    FileInfo,
    ReadError,
    Run,
    SeekableFormat,
)
from common_outcomes.identifiers import is_valid_upn

READ_BLOCK = 1 << 16
# Bounds a hostile or broken file cannot pass: one child's elements and one element's text.
MAX_CHILD_ELEMENTS = 50_000
MAX_TEXT = 10_000
ROOT = "Message"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# xs:boolean as the schema allows it; the SSD writes Y/N.
_BOOLEAN = {"true": "Y", "1": "Y", "false": "N", "0": "N"}
# Values never repeated in a message: they identify a child.
_PERSONAL = frozenset({"LAchildID", "UPN", "FormerUPN", "PersonBirthDate",
                       "ExpectedPersonBirthDate", "PersonDeathDate"})
# Factors identified at assessment (the specification's code set; the SSD keeps them as a
# JSON list, so they cannot be a column's code list).
ASSESSMENT_FACTORS = frozenset({
    "1A", "1B", "1C", "2A", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C", "5A", "5B", "5C",
    "6A", "6B", "6C", "7A", "8B", "8C", "8D", "8E", "8F", "9A", "10A", "11A", "12A", "13A",
    "14A", "15A", "16A", "17A", "18B", "18C", "19B", "19C", "20", "21", "22A", "23A", "24A"})


class _Node:
    """One element of a <Child> (or the header): its tag, line, text and elements."""

    __slots__ = ("children", "counts", "index", "line", "parent", "tag", "text")

    def __init__(self, tag: str, line: int, parent: _Node | None, index: int) -> None:
        self.tag, self.line, self.parent, self.index = tag, line, parent, index
        self.text = ""
        self.children: list[_Node] = []
        self.counts: dict[str, int] = {}

    def add(self, tag: str, line: int, keep: bool = True) -> _Node:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        node = _Node(tag, line, self, self.counts[tag])
        if keep:
            self.children.append(node)
        return node

    @property
    def path(self) -> str:
        """As XPath writes it, with a position where the element is a group or repeats:
        Message/Children/Child[12]/CINdetails[1]/CINreferralDate."""
        if self.parent is None:
            return self.tag
        repeats = self.children or self.parent.counts.get(self.tag, 0) > 1
        return f"{self.parent.path}/{self.tag}" + (f"[{self.index}]" if repeats else "")

    def all(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def find(self, path: str) -> _Node | None:
        node: _Node | None = self
        for tag in path.split("/"):
            node = next((c for c in node.children if c.tag == tag), None) if node else None
        return node


@dataclass(frozen=True)
class Cell:
    """A value of a record and where it is (or, missing, where it belongs)."""

    text: str | None
    path: str
    line: int
    element: str  # the element's name ('' for a key made from others)
    boolean: bool = False  # an xs:boolean, written Y/N

    @property
    def derived(self) -> bool:
        return not self.element


def _cell(node: _Node, path: str, boolean: bool = False) -> Cell:
    found = node.find(path)
    element = path.rsplit("/", 1)[-1]
    if found is None:
        return Cell(None, f"{node.path}/{path}", node.line, element, boolean)
    return Cell(found.text.strip() or None, found.path, found.line, element, boolean)


def _key(node: _Node, *parts: Cell) -> Cell:
    """A record's id made from the cells that identify it (None if one is missing)."""
    texts = [p.text for p in parts]
    text = "/".join(t for t in texts if t) if all(texts) else None
    return Cell(text, node.path, node.line, "")


Record = dict[str, Cell]


@dataclass(frozen=True)
class Order:
    """Two dates of a record that the specification puts in order."""

    later: str
    earlier: str
    strict: bool
    rule: str  # the sentence's end: what DfE's rule says


@dataclass(frozen=True)
class Table:
    """One SSD table filled from the census: its columns (the SSD's names, in order), how a
    <Child> becomes its records, and the dates that must be in order."""

    columns: tuple[str, ...]
    records: Callable[[_Node], Iterator[Record]]
    orders: tuple[Order, ...] = ()


def _child_id(child: _Node) -> Cell:
    return _cell(child, "ChildIdentifiers/LAchildID")


def _person(child: _Node) -> Iterator[Record]:
    yield {"pers_person_id": _child_id(child),
           "pers_sex": _cell(child, "ChildIdentifiers/Sex"),
           "pers_gender": _cell(child, "ChildIdentifiers/GenderCurrent"),
           "pers_ethnicity": _cell(child, "ChildCharacteristics/Ethnicity"),
           "pers_dob": _cell(child, "ChildIdentifiers/PersonBirthDate"),
           "pers_expected_dob": _cell(child, "ChildIdentifiers/ExpectedPersonBirthDate"),
           "pers_death_date": _cell(child, "ChildIdentifiers/PersonDeathDate"),
           "pers_upn_unknown": _cell(child, "ChildIdentifiers/UPNunknown")}


def _send(child: _Node) -> Iterator[Record]:
    person = _child_id(child)
    yield {"send_table_id": _key(child, person), "send_person_id": person,
           "send_upn": _cell(child, "ChildIdentifiers/UPN"),
           "send_upn_unknown": _cell(child, "ChildIdentifiers/UPNunknown")}


def _disability(child: _Node) -> Iterator[Record]:
    person = _child_id(child)
    group = child.find("ChildCharacteristics/Disabilities")
    for node in group.all("Disability") if group else []:
        code = Cell(node.text.strip() or None, node.path, node.line, "Disability")
        yield {"disa_table_id": _key(node, person, code), "disa_person_id": person,
               "disa_disability_code": code}


def _episodes(child: _Node) -> Iterator[tuple[Cell, Cell, _Node]]:
    """(child id, episode id, <CINdetails>) for each episode."""
    person = _child_id(child)
    for node in child.all("CINdetails"):
        yield person, _key(node, person, _cell(node, "CINreferralDate")), node


def _cin_episodes(child: _Node) -> Iterator[Record]:
    for person, episode, node in _episodes(child):
        yield {"cine_referral_id": episode, "cine_person_id": person,
               "cine_referral_date": _cell(node, "CINreferralDate"),
               "cine_cin_primary_need_code": _cell(node, "PrimaryNeedCode"),
               "cine_referral_source_code": _cell(node, "ReferralSource"),
               "cine_referral_nfa": _cell(node, "ReferralNFA", boolean=True),
               "cine_close_reason": _cell(node, "ReasonForClosure"),
               "cine_close_date": _cell(node, "CINclosureDate")}


def _cin_plans(child: _Node) -> Iterator[Record]:
    for person, episode, cin in _episodes(child):
        for node in cin.all("CINPlanDates"):
            start = _cell(node, "CINPlanStartDate")
            yield {"cinp_cin_plan_id": _key(node, episode, start), "cinp_referral_id": episode,
                   "cinp_person_id": person, "cinp_cin_plan_start_date": start,
                   "cinp_cin_plan_end_date": _cell(node, "CINPlanEndDate"),
                   "_referral": _cell(cin, "CINreferralDate")}


def _assessment_nodes(child: _Node) -> Iterator[tuple[Cell, Cell, Cell, _Node, _Node]]:
    """(child id, episode id, assessment id, <CINdetails>, <Assessments>)."""
    for person, episode, cin in _episodes(child):
        for node in cin.all("Assessments"):
            yield (person, episode, _key(node, episode, _cell(node, "AssessmentActualStartDate")),
                   cin, node)


def _assessments(child: _Node) -> Iterator[Record]:
    for person, episode, assessment, cin, node in _assessment_nodes(child):
        yield {"cina_assessment_id": assessment, "cina_person_id": person,
               "cina_referral_id": episode,
               "cina_assessment_start_date": _cell(node, "AssessmentActualStartDate"),
               "cina_assessment_auth_date": _cell(node, "AssessmentAuthorisationDate"),
               "_referral": _cell(cin, "CINreferralDate")}


def _assessment_factors(child: _Node) -> Iterator[Record]:
    for _, _, assessment, _, node in _assessment_nodes(child):
        group = node.find("FactorsIdentifiedAtAssessment")
        if group is None:
            continue
        factors = [Cell(f.text.strip() or None, f.path, f.line, "AssessmentFactors")
                   for f in group.all("AssessmentFactors")]
        listed = [f.text for f in factors if f.text]
        record: Record = {
            "cinf_table_id": _key(group, assessment, Cell("factors", "", 0, "")),
            "cinf_assessment_id": assessment,
            "cinf_assessment_factors_json": Cell(json.dumps(listed), group.path, group.line,
                                                 "")}
        # Each factor is checked where it is written.
        record.update({f"_factor{k}": f for k, f in enumerate(factors)})
        yield record


def _s47_enquiries(child: _Node) -> Iterator[Record]:
    for person, episode, cin in _episodes(child):
        for node in cin.all("Section47"):
            start = _cell(node, "S47ActualStartDate")
            yield {"s47e_s47_enquiry_id": _key(node, episode, start),
                   "s47e_referral_id": episode, "s47e_person_id": person,
                   "s47e_s47_start_date": start, "_referral": _cell(cin, "CINreferralDate")}


def _plan_nodes(child: _Node) -> Iterator[tuple[Cell, Cell, Cell, _Node, _Node]]:
    """(child id, episode id, plan id, <CINdetails>, <ChildProtectionPlans>)."""
    for person, episode, cin in _episodes(child):
        for node in cin.all("ChildProtectionPlans"):
            yield person, episode, _key(node, episode, _cell(node, "CPPstartDate")), cin, node


def _cp_plans(child: _Node) -> Iterator[Record]:
    for person, episode, plan, cin, node in _plan_nodes(child):
        yield {"cppl_cp_plan_id": plan, "cppl_referral_id": episode, "cppl_person_id": person,
               "cppl_cp_plan_start_date": _cell(node, "CPPstartDate"),
               "cppl_cp_plan_end_date": _cell(node, "CPPendDate"),
               "cppl_cp_plan_initial_category": _cell(node, "InitialCategoryOfAbuse"),
               "cppl_cp_plan_latest_category": _cell(node, "LatestCategoryOfAbuse"),
               "_referral": _cell(cin, "CINreferralDate")}


def _cp_reviews(child: _Node) -> Iterator[Record]:
    for person, _, plan, _, node in _plan_nodes(child):
        group = node.find("Reviews")
        for review in group.all("CPPreviewDate") if group else []:
            when = Cell(review.text.strip() or None, review.path, review.line, "CPPreviewDate")
            yield {"cppr_cp_review_id": _key(review, plan, when), "cppr_person_id": person,
                   "cppr_cp_plan_id": plan, "cppr_cp_review_date": when,
                   "_plan_start": _cell(node, "CPPstartDate")}


_AFTER_REFERRAL = "it cannot be before the referral date"
TABLES: Mapping[str, Table] = MappingProxyType({
    "person": Table(("pers_person_id", "pers_sex", "pers_gender", "pers_ethnicity", "pers_dob",
                     "pers_expected_dob", "pers_death_date", "pers_upn_unknown"), _person),
    "send": Table(("send_table_id", "send_person_id", "send_upn", "send_upn_unknown"), _send),
    "disability": Table(("disa_person_id", "disa_table_id", "disa_disability_code"),
                        _disability),
    "cin-episodes": Table(
        ("cine_referral_id", "cine_person_id", "cine_referral_date",
         "cine_cin_primary_need_code", "cine_referral_source_code", "cine_referral_nfa",
         "cine_close_reason", "cine_close_date"), _cin_episodes,
        (Order("cine_close_date", "cine_referral_date", False,
               "the episode cannot close before its referral (DfE rule 8630)"),)),
    "cin-plans": Table(
        ("cinp_cin_plan_id", "cinp_referral_id", "cinp_person_id", "cinp_cin_plan_start_date",
         "cinp_cin_plan_end_date"), _cin_plans,
        (Order("cinp_cin_plan_start_date", "_referral", False, _AFTER_REFERRAL),
         Order("cinp_cin_plan_end_date", "cinp_cin_plan_start_date", False,
               "the plan cannot end before it starts"))),
    "assessments": Table(
        ("cina_assessment_id", "cina_person_id", "cina_referral_id",
         "cina_assessment_start_date", "cina_assessment_auth_date"), _assessments,
        (Order("cina_assessment_start_date", "_referral", False,
               f"{_AFTER_REFERRAL} (DfE rule 1103)"),
         Order("cina_assessment_auth_date", "cina_assessment_start_date", False,
               "the assessment cannot be authorised before it starts"))),
    "assessment-factors": Table(
        ("cinf_table_id", "cinf_assessment_id", "cinf_assessment_factors_json"),
        _assessment_factors),
    "s47-enquiries": Table(
        ("s47e_s47_enquiry_id", "s47e_referral_id", "s47e_person_id", "s47e_s47_start_date"),
        _s47_enquiries,
        (Order("s47e_s47_start_date", "_referral", False, f"{_AFTER_REFERRAL} (DfE rule 2889)"),)),
    "cp-plans": Table(
        ("cppl_cp_plan_id", "cppl_referral_id", "cppl_person_id", "cppl_cp_plan_start_date",
         "cppl_cp_plan_end_date", "cppl_cp_plan_initial_category",
         "cppl_cp_plan_latest_category"), _cp_plans,
        (Order("cppl_cp_plan_start_date", "_referral", False,
               f"{_AFTER_REFERRAL} (DfE rule 1105)"),
         Order("cppl_cp_plan_end_date", "cppl_cp_plan_start_date", False,
               "the plan cannot end before it starts"))),
    "cp-reviews": Table(
        ("cppr_cp_review_id", "cppr_person_id", "cppr_cp_plan_id", "cppr_cp_review_date"),
        _cp_reviews,
        (Order("cppr_cp_review_date", "_plan_start", True,
               "a review must come after the plan starts (DfE rule 8841)"),)),
})


# --- parsing -----------------------------------------------------------------------------------


class _Parser:
    """expat, pushed a block at a time; each completed <Child> is collected for `take`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        # No DTD, so no entity is ever declared, expanded or fetched.
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.parser.ExternalEntityRefHandler = self._external
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text
        self.stack: list[_Node] = []
        self.root: _Node | None = None
        self.children: _Node | None = None
        self.done: list[_Node] = []
        self.elements = 0
        self.child_count = 0

    def _unsafe(self, what: str) -> ReadError:
        return ReadError("xml.unsafe", f"{self.name} {what} at line "
                         f"{self.parser.CurrentLineNumber}, which could expand entities or "
                         "reach other files; a CIN census has none, so it was not read.")

    def _doctype(self, *_: object) -> None:
        raise self._unsafe("declares a document type (<!DOCTYPE>)")

    def _entity(self, *_: object) -> None:
        raise self._unsafe("declares an entity")

    def _external(self, *_: object) -> int:
        raise self._unsafe("refers to an external entity")

    def _start(self, tag: str, _attrs: object) -> None:
        line = self.parser.CurrentLineNumber
        if not self.stack:
            if tag != ROOT:
                raise ReadError("xml.not-cin-census", f"{self.name} is not a CIN census file: "
                                f"its root element is <{tag}> (line {line}), where DfE's "
                                "children in need census has <Message> holding <Header> and "
                                "<Children>; load the CIN census XML as submitted to DfE.")
            self.root = _Node(tag, line, None, 1)
            self.stack.append(self.root)
            return
        parent = self.stack[-1]
        # A <Child> is kept until it is taken; nothing else under <Children> is kept at all.
        node = parent.add(tag, line, keep=parent is not self.children)
        if parent is self.root and tag == "Children":
            self.children = node
        elif parent is self.children:
            self.elements = 0
        self.elements += 1
        if self.elements > MAX_CHILD_ELEMENTS:
            raise ReadError("xml.too-large", f"{self.name} has a <Child> with more than "
                            f"{MAX_CHILD_ELEMENTS:,} elements (at line {line}), more than any "
                            "real child's record; it was not read.")
        self.stack.append(node)

    def _end(self, tag: str) -> None:
        node = self.stack.pop()
        if node.parent is self.children and node.parent is not None and tag == "Child":
            self.done.append(node)
            self.child_count += 1

    def _text(self, data: str) -> None:
        node = self.stack[-1] if self.stack else None
        if node is not None and node is not self.children and len(node.text) < MAX_TEXT:
            node.text += data[:MAX_TEXT]

    def feed(self, block: bytes, final: bool) -> list[_Node]:
        try:
            self.parser.Parse(block, final)
        except expat.ExpatError as exc:
            raise ReadError("xml.malformed", f"{self.name} is not well-formed XML: "
                            f"{expat.ErrorString(exc.code)} at line {exc.lineno}, column "
                            f"{exc.offset + 1}; correct the file or export it again.") from exc
        done, self.done = self.done, []
        return done

    def header_problem(self) -> str | None:
        """Why the finished document is not a CIN census with children, if it is not."""
        collection = self.root.find("Header/CollectionDetails/Collection") if self.root else None
        if collection is not None and collection.text.strip() != "CIN":
            return (f"is not a CIN census file: its collection is "
                    f"'{collection.text.strip()[:20]}' (line {collection.line}), not 'CIN'")
        if self.children is None:
            return "has no <Children>, so it holds no CIN census records"
        if self.child_count == 0:
            return "has no <Child> under <Children>, so there is nothing to load"
        return None


def children(fh: IO[bytes], name: str) -> Iterator[_Node]:
    """Each <Child> of the file in turn (the header checked once the file ends)."""
    parser = _Parser(name)
    while block := fh.read(READ_BLOCK):
        yield from parser.feed(block, False)
    yield from parser.feed(b"", True)
    problem = parser.header_problem()
    if problem is not None:
        code = "xml.not-cin-census" if "collection" in problem else "file.empty"
        raise ReadError(code, f"{name} {problem}.")


# --- checking ----------------------------------------------------------------------------------


# A date a record's key or checks need from the record above it (the episode's referral).
_CONTEXT = Column(name="context", type=ColumnType.DATE, required=True)


def _where(cell: Cell) -> str:
    return f"{cell.path}, line {cell.line}"


def _shown(cell: Cell) -> str:
    return "" if cell.element in _PERSONAL else f" ('{cell.text}')"


def _check_cell(cell: Cell, column: Column | None) -> tuple[str, str] | None:
    """(code, sentence) for a value the specification does not allow, else None."""
    text, name = cell.text, cell.element
    if cell.derived:
        return None
    if text is None:
        if column is not None and column.required:
            return ("value.missing", f"{_where(cell)}: the CIN census requires <{name}> here, "
                                     "and there is none.")
        return None
    if column is None:  # a factor: its code set is the specification's
        if text not in ASSESSMENT_FACTORS:
            return ("value.not-in-code-list", f"{_where(cell)}: {name}{_shown(cell)} is not a "
                                              "factor code of the CIN census.")
        return None
    if cell.boolean:
        if text.lower() not in _BOOLEAN:
            return ("value.not-in-code-list", f"{_where(cell)}: {name}{_shown(cell)} must be "
                                              "true or false (or 1 or 0).")
        return None
    if column.type is ColumnType.DATE and _date(text) is None:
        return ("value.bad-date", f"{_where(cell)}: {name}{_shown(cell)} is not a date written "
                                  "YYYY-MM-DD, as the census schema writes dates.")
    if column.codes and text not in column.codes:
        return ("value.not-in-code-list", f"{_where(cell)}: {name}{_shown(cell)} is not a CIN "
                                          f"census code (one of {', '.join(column.codes)}).")
    if column.identifier is Identifier.UPN and not is_valid_upn(text):
        return ("value.invalid-upn", f"{_where(cell)}: {name} is not a valid UPN (13 "
                                     "characters with a correct check letter).")
    return None


def _date(text: str | None) -> date | None:
    if text is None or not _ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def problems(record: Record, table: Table,
             columns: Mapping[str, Column]) -> list[tuple[str, str, str]]:
    """(field path, code, sentence) for everything wrong with one record."""
    found: list[tuple[str, str, str]] = []
    for name, cell in record.items():
        column = (None if name.startswith("_factor") else _CONTEXT if name.startswith("_")
                  else columns.get(name))
        if column is None and not name.startswith("_factor"):
            continue  # a column the source does not declare is not loaded, so not checked
        problem = _check_cell(cell, column)
        if problem is not None:
            found.append((cell.path, *problem))
    for order in table.orders:
        later, earlier = record[order.later], record[order.earlier]
        after, before = _date(later.text), _date(earlier.text)
        if after is None or before is None:
            continue
        if after < before or (order.strict and after == before):
            found.append((later.path, "value.date-order",
                          f"{_where(later)}: {later.element} is "
                          f"{'on or before' if order.strict else 'before'} {earlier.element} "
                          f"(line {earlier.line}); {order.rule}."))
    return found


def _value(cell: Cell) -> str | None:
    if cell.boolean and cell.text is not None:
        return _BOOLEAN[cell.text.lower()]
    return cell.text


# --- the format --------------------------------------------------------------------------------


YEAR = "census_year"  # every table's: the census's year, for the latest-return rule
_REFERENCE = "Header/CollectionDetails/ReferenceDate"


def census_year(child: _Node, name: str) -> int:
    """The census's year, from the Header's ReferenceDate (31 March of the year it ends),
    which comes before the first <Child>. Raises ReadError when it is missing or no date."""
    children = child.parent
    root = children.parent if children is not None else None
    found = root.find(_REFERENCE) if root is not None else None
    if found is None:
        raise ReadError("xml.no-reference-date",
                        f"{name} has no {ROOT}/{_REFERENCE} before its first <Child> (line "
                        f"{child.line}), which gives the census's year; load the census as "
                        "exported for DfE, with its header.")
    day = _date(found.text.strip())
    if day is None:
        raise ReadError("xml.no-reference-date",
                        f"{name}: {found.path}, line {found.line}, ('{found.text.strip()[:20]}') "
                        "is not a date written YYYY-MM-DD, so it does not give the census's "
                        "year; correct the header or export the census again.")
    return day.year


class CinCensusFormat(SeekableFormat):
    """DfE's children in need census, as the XML an LA submits (.xml)."""

    name: str = "cin-census"
    suffixes: tuple[str, ...] = (".xml",)
    near: Mapping[str, str] = MappingProxyType({})
    tables: Mapping[str, tuple[str, ...]] = MappingProxyType(
        {name: (*table.columns, YEAR) for name, table in TABLES.items()})

    def header(self, fh: IO[bytes], name: str) -> tuple[str, ...]:
        # The whole file once: well-formed, safe, a CIN census with children and its year.
        dated = False
        for child in children(fh, name):
            if not dated:
                census_year(child, name)
                dated = True
        return ()

    def rows(self, fh: IO[bytes], info: FileInfo, chunk_rows: int) -> Iterator[Run | BadRow]:
        if info.part is None:
            raise ValueError("a CIN census is read one table at a time")
        table = TABLES[info.part.table]
        declared = {c.name: c for c in info.part.columns}
        columns = (*table.columns, YEAR)
        values: list[list[str | None]] = [[] for _ in columns]
        first = row = 1
        year: Cell | None = None
        for child in children(fh, info.name):
            if year is None:
                year = Cell(str(census_year(child, info.name)), "", 0, "")
            for record in table.records(child):
                record[YEAR] = year
                found = problems(record, table, declared)
                if found:
                    yield from _run(values, first, columns)
                    values = [[] for _ in columns]
                    first = row + 1
                    yield from (BadRow(row, code, message, path) for path, code, message in found)
                else:
                    for column, name in zip(values, columns, strict=True):
                        column.append(_value(record[name]))
                    if len(values[0]) == chunk_rows:
                        yield from _run(values, first, columns)
                        values = [[] for _ in columns]
                        first = row + 1
                row += 1
        yield from _run(values, first, columns)


def _run(values: list[list[str | None]], first: int, columns: tuple[str, ...]) -> Iterator[Run]:
    if values and values[0]:
        yield Run(first, pa.Table.from_arrays([pa.array(v, pa.string()) for v in values],
                                              names=list(columns)))
