"""Synthetic CIN census XML files, written from DfE's CIN census specification (element
names, order and code sets of "Children in need census 2025 to 2026: business and technical
specification"): invented children only. `borough()` is a census with what a real one has
(re-referrals, NFA referrals, closed and open episodes, assessments with factors, S47
enquiries, child protection plans with reviews, UPN unknown codes, a child with no CIN
details), and `write` renders any list of children, one element a line, so that a test can
predict every element's line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from common_outcomes.identifiers import upn_check_letter

FACTORS = ("1B", "2B", "3A", "4B", "16A", "21", "24A")


@dataclass
class Assessment:
    start: date
    authorised: date | None
    factors: tuple[str, ...] = ()


@dataclass
class Plan:
    start: date
    end: date | None
    reviews: tuple[date, ...] = ()
    category: str = "NEG"


@dataclass
class Episode:
    referral: date
    closure: date | None = None
    reason: str | None = None
    nfa: bool = False
    need: str = "N1"
    source: str = "2A"
    assessments: list[Assessment] = field(default_factory=list)
    cin_plans: list[tuple[date, date | None]] = field(default_factory=list)
    s47: list[date] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # element -> raw text, to break rules


@dataclass
class Child:
    la_id: str
    birth: date
    sex: str = "F"
    upn: str | None = None
    upn_unknown: str | None = None
    disabilities: tuple[str, ...] = ()
    episodes: list[Episode] = field(default_factory=list)


def upn(n: int) -> str:
    body = f"{201:03d}{n:09d}"  # LA 201's prefix (synthetic)
    return upn_check_letter(body) + body


def borough(n_children: int = 24) -> list[Child]:
    """Children whose histories cover each case the loader and the two indicators meet."""
    out: list[Child] = []
    for k in range(n_children):
        birth = date(2010 + k % 12, 1 + k % 12, 1 + k % 28)
        child = Child(f"LA{k:05d}", birth, "MFU"[k % 3],
                      upn=upn(k) if k % 4 else None, upn_unknown=None if k % 4 else "UN2",
                      disabilities=("NONE",) if k % 5 else ("AUT", "COMM"))
        if k == n_children - 1:
            out.append(child)  # no CIN details: in the person table only
            continue
        first = date(2022, 4, 5) + timedelta(days=23 * k % 730)
        # A first episode, closed after assessment, or still open for every third child.
        one = Episode(first, need=f"N{1 + k % 8}", source=("1A", "2A", "3A", "5D", "6")[k % 5])
        one.assessments.append(Assessment(first + timedelta(days=3), first + timedelta(days=30),
                                          (FACTORS[k % 7], FACTORS[(k + 3) % 7])))
        if k % 3 == 0:
            child.episodes.append(one)  # open: the child is in need at every 31 March since
            if k % 2 == 1:
                one.cin_plans.append((first + timedelta(days=35), None))
            if k % 2 == 0:
                one.s47.append(first + timedelta(days=5))
                one.plans.append(Plan(first + timedelta(days=20), None,
                                      (first + timedelta(days=110), first + timedelta(days=290)),
                                      ("NEG", "EMO", "PHY")[k % 3]))
            out.append(child)
            continue
        close = first + timedelta(days=100 + 11 * (k % 20))
        if close.month == 3:
            close += timedelta(days=31)  # the engine places a stock by month: keep off March
        one.closure, one.reason = close, "RC7"
        child.episodes.append(one)
        # Re-referred: within 12 months for even k, after more than 12 months for odd k.
        again = close + timedelta(days=40 if k % 2 == 0 else 400)
        second = Episode(again, source="6")
        if k % 4 == 1:
            second.nfa, second.closure, second.reason = True, again, "RC8"
        child.episodes.append(second)
        out.append(child)
    return out


def _line(tag: str, text: object, depth: int) -> str:
    return "  " * depth + f"<{tag}>{escape(str(text))}</{tag}>"


def render(children: list[Child], header: bool = True, root: str = "Message",
           reference: date = date(2025, 3, 31)) -> list[str]:
    """The file's lines (line 1 is the XML declaration); `reference` is the census's
    reference date (31 March of the year it ends)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{root}>"]
    if header:
        lines += ["  <Header>", "    <CollectionDetails>", _line("Collection", "CIN", 3),
                  _line("Year", reference.year, 3), _line("ReferenceDate", reference, 3),
                  "    </CollectionDetails>", "    <Source>", _line("SourceLevel", "L", 3),
                  _line("LEA", "211", 3), _line("SoftwareCode", "Synthetic", 3),
                  _line("Release", "1", 3), _line("SerialNo", "001", 3),
                  _line("DateTime", "2025-05-01T09:00:00", 3), "    </Source>", "  </Header>"]
    lines.append("  <Children>")
    for child in children:
        lines += ["    <Child>", "      <ChildIdentifiers>", _line("LAchildID", child.la_id, 4)]
        if child.upn:
            lines.append(_line("UPN", child.upn, 4))
        if child.upn_unknown:
            lines.append(_line("UPNunknown", child.upn_unknown, 4))
        lines += [_line("PersonBirthDate", child.birth, 4), _line("Sex", child.sex, 4),
                  "      </ChildIdentifiers>", "      <ChildCharacteristics>",
                  _line("Ethnicity", "WBRI", 4)]
        if child.disabilities:
            lines.append("        <Disabilities>")
            lines += [_line("Disability", d, 5) for d in child.disabilities]
            lines.append("        </Disabilities>")
        lines.append("      </ChildCharacteristics>")
        for e in child.episodes:
            lines += _episode(e)
        lines.append("    </Child>")
    lines += ["  </Children>", f"</{root}>"]
    return lines


def _episode(e: Episode) -> list[str]:
    def value(tag: str, default: object) -> str | None:
        raw = e.extra.get(tag, default)
        return None if raw is None else str(raw)

    out = ["      <CINdetails>"]
    for tag, default in (("CINreferralDate", e.referral), ("ReferralSource", e.source),
                         ("PrimaryNeedCode", e.need), ("CINclosureDate", e.closure),
                         ("ReasonForClosure", e.reason)):
        text = value(tag, default)
        if text is not None:
            out.append(_line(tag, text, 4))
    for a in e.assessments:
        out += ["        <Assessments>", _line("AssessmentActualStartDate", a.start, 5)]
        if a.authorised:
            out.append(_line("AssessmentAuthorisationDate", a.authorised, 5))
        if a.factors:
            out.append("          <FactorsIdentifiedAtAssessment>")
            out += [_line("AssessmentFactors", f, 6) for f in a.factors]
            out.append("          </FactorsIdentifiedAtAssessment>")
        out.append("        </Assessments>")
    for start, end in e.cin_plans:
        out += ["        <CINPlanDates>", _line("CINPlanStartDate", start, 5)]
        if end:
            out.append(_line("CINPlanEndDate", end, 5))
        out.append("        </CINPlanDates>")
    for start in e.s47:
        out += ["        <Section47>", _line("S47ActualStartDate", start, 5),
                _line("InitialCPCtarget", start + timedelta(days=15), 5),
                _line("DateOfInitialCPC", start + timedelta(days=14), 5),
                _line("ICPCnotRequired", "false", 5), "        </Section47>"]
    out.append(_line("ReferralNFA", "true" if e.nfa else "false", 4))
    for p in e.plans:
        out += ["        <ChildProtectionPlans>", _line("CPPstartDate", p.start, 5)]
        if p.end:
            out.append(_line("CPPendDate", p.end, 5))
        out += [_line("InitialCategoryOfAbuse", p.category, 5),
                _line("LatestCategoryOfAbuse", p.category, 5),
                _line("NumberOfPreviousCPP", 0, 5)]
        if p.reviews:
            out.append("          <Reviews>")
            out += [_line("CPPreviewDate", r, 6) for r in p.reviews]
            out.append("          </Reviews>")
        out.append("        </ChildProtectionPlans>")
    out.append("      </CINdetails>")
    return out


def write(path: Path, children: list[Child], **kwargs: object) -> list[str]:
    lines = render(children, **kwargs)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines
