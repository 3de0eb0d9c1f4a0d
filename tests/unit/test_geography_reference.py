"""The carried reference geography, spot-checked. (That it is what the builder writes from
the published originals, byte for byte, is checked by the provenance step:
tests_provenance/.)"""

from __future__ import annotations

from collections import Counter

from common_outcomes.geography import reference
from common_outcomes.geography.reference import (
    KINDS,
    england_msoas,
    local_authorities,
    london_lsoas,
)
from common_outcomes.reference import DATA, read_manifest

TOWER_HAMLETS = "E09000030"


def test_row_counts_are_the_manifests() -> None:
    rows = {t.kind: t.rows for t in read_manifest(DATA)}
    assert (rows[KINDS[reference.LONDON_LSOAS]], rows[KINDS[reference.ENGLAND_MSOAS]],
            rows[KINDS[reference.LAS]]) == (len(london_lsoas()), len(england_msoas()),
                                           len(local_authorities())) == (4994, 6856, 161)


def test_london_lsoas_and_tower_hamlets() -> None:
    rows = london_lsoas()
    assert len(rows) == 4994 and len({r.lsoa_code for r in rows}) == 4994
    assert len({r.la_code for r in rows}) == 33
    th = [r for r in rows if r.la_code == TOWER_HAMLETS]
    assert len(th) == 169
    assert len({r.ward_code for r in th}) == 20
    assert {r.la_name for r in th} == {"Tower Hamlets"}
    assert all(r.ward_name for r in rows)


def test_england_msoas_join_the_authorities() -> None:
    rows = england_msoas()
    assert len(rows) == 6856
    assert all(r.msoa_code.startswith("E02") for r in rows)
    utlas = {r.utla_code for r in rows}
    assert len(utlas) == 153
    assert utlas <= {la.la_code for la in local_authorities()}
    assert len({r.region_code for r in rows}) == 9
    assert Counter(r.utla_code for r in rows)[TOWER_HAMLETS] > 0


def test_barnsley_keeps_the_code_dfe_publishes() -> None:
    # ONS recoded Barnsley E08000016 -> E08000038 in 2024; DfE still uses the old code.
    barnsley = [r for r in england_msoas() if r.utla_name == "Barnsley"]
    assert barnsley
    assert {r.utla_code for r in barnsley} == {"E08000016"}
    assert {r.lad_code for r in barnsley} == {"E08000038"}


def test_local_authorities() -> None:
    las = {r.la_code: r for r in local_authorities()}
    assert len(las) == 161
    assert all(code[:3] in {"E06", "E08", "E09", "E10"} for code in las)
    th = las[TOWER_HAMLETS]
    assert (th.la_name, th.old_la_code, th.region_code, th.region_name) == (
        "Tower Hamlets", 211, "E12000007", "London")
    # Authorities that no longer exist stay, with their own DfE numbers.
    assert las["E10000021"].la_name == "Northamptonshire"
    assert las["E10000006"].old_la_code == 909
    assert all(r.region_code.startswith("E12") for r in las.values())
