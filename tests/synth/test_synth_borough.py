"""`outcomes synth` on the Tower Hamlets example: every source, deterministic, calibrated,
valid identifiers, real areas, the truth kept apart, and the planted effects findable."""

from __future__ import annotations

import csv
import filecmp
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common_outcomes.identifiers import is_valid_nhs_number, is_valid_upn
from common_outcomes.synth.spec import Effects

# Its tests run whole commands (synthesise, load, run, serve): more than the default timeout.
pytestmark = pytest.mark.timeout(900)
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tower-hamlets"
LA = "E09000030"
SOURCES = {
    "maternity", "health_visiting", "family_hub_contacts", "early_education", "eyfsp",
    "school_attendance", "participation", "population", "postcode_directory",
    "ssd_person", "ssd_family", "ssd_address", "ssd_linked_identifiers",
    "ssd_early_help_episodes", "ssd_cin_episodes", "ssd_cp_plans", "ssd_cla_episodes",
}


def outcomes(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("outcomes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def fresh_copy(root: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(
        "incoming", "synth-truth", ".outcomes", ".synth-staging-*"))
    return target


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = fresh_copy(tmp_path_factory.mktemp("synth"), "tower-hamlets")
    result = outcomes("synth", str(ws), "--scale", "borough", "--years", "5", "--seed", "1")
    assert result.returncode == 0, result.stderr
    return ws


def read(ws: Path, source: str) -> pa.Table:
    return pq.read_table(ws / "incoming" / source / f"{LA}.parquet")


def column(t: pa.Table, name: str) -> np.ndarray:
    return np.array(t.column(name).to_pylist(), dtype=object)


def test_every_source_is_written_and_the_truth_is_apart(generated: Path) -> None:
    sources = {p.name for p in (generated / "incoming").iterdir()}
    assert sources == SOURCES
    for source in SOURCES:
        assert read(generated, source).num_rows > 0, source
    truth = generated / "synth-truth"
    assert {p.name for p in truth.iterdir()} == {"links", "people", "effects.yaml",
                                                 "calibration_report.csv", "manifest.json"}
    # No source carries the truth's person ids.
    for source in SOURCES:
        assert "person_id" not in read(generated, source).column_names


def test_running_twice_gives_byte_identical_files(generated: Path, tmp_path: Path) -> None:
    again = fresh_copy(tmp_path, "again")
    assert outcomes("synth", str(again), "--years", "5", "--seed", "1").returncode == 0
    for folder in ("incoming", "synth-truth"):
        left, right = generated / folder, again / folder
        files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
        same, mismatch, errors = filecmp.cmpfiles(left, right, [str(f) for f in files],
                                                   shallow=False)
        assert mismatch == [] and errors == [] and len(same) == len(files)


def test_another_seed_gives_other_data(tmp_path: Path, generated: Path) -> None:
    other = fresh_copy(tmp_path, "other")
    assert outcomes("synth", str(other), "--years", "5", "--seed", "2").returncode == 0
    assert not filecmp.cmp(generated / "incoming" / "maternity" / f"{LA}.parquet",
                           other / "incoming" / "maternity" / f"{LA}.parquet", shallow=False)


def test_every_calibrated_measure_is_within_tolerance(generated: Path) -> None:
    with (generated / "synth-truth" / "calibration_report.csv").open() as f:
        rows = list(csv.DictReader(f))
    measures = {r["measure"] for r in rows}
    assert measures >= {"gld_percent", "cin_rate_per_10k", "cpp_rate_per_10k",
                        "cla_rate_per_10k", "neet_nk_percent", "persistent_absence_percent",
                        "population_0_17", "low_birth_weight_term_percent"}
    outside = [r for r in rows if r["within"] != "yes"]
    assert outside == []
    # Every row names the published figure it aimed at and where it came from.
    assert all(r["source"] and r["published_period"] for r in rows)


def test_every_nhs_number_and_upn_passes_its_check(generated: Path) -> None:
    nhs = np.concatenate([
        column(read(generated, "maternity"), "mother_nhs_number"),
        column(read(generated, "maternity"), "baby_nhs_number"),
        column(read(generated, "health_visiting"), "child_nhs_number"),
    ])
    links = read(generated, "ssd_linked_identifiers")
    kind = column(links, "link_identifier_type")
    value = column(links, "link_identifier_value")
    nhs = np.concatenate([nhs, value[kind == "NHS Number"]])
    present = [v for v in nhs if v is not None]
    assert len(present) > 10_000
    assert all(is_valid_nhs_number(v) and v.startswith("999") for v in present)
    upns = np.concatenate([column(read(generated, s), "upn")
                           for s in ("eyfsp", "school_attendance", "participation")]
                          + [value[kind == "Unique Pupil Number"]])
    present = [v for v in upns if v is not None]
    assert len(present) > 10_000
    assert all(is_valid_upn(v) for v in present)


def test_every_area_is_a_real_code_of_the_borough(generated: Path) -> None:
    import yaml

    geography = yaml.safe_load((generated / "geography.yaml").read_text())
    lsoas = {a["code"] for a in geography["lsoas"]}
    for source in ("maternity", "health_visiting", "population", "postcode_directory"):
        t = read(generated, source)
        name = "area_code" if source == "postcode_directory" else "residence_area_code"
        assert set(column(t, name)) <= lsoas, source
    # Every postcode a partner wrote is in the (synthetic) postcode directory.
    directory = set(column(read(generated, "postcode_directory"), "postcode"))
    for source, name in (("maternity", "mother_postcode"), ("health_visiting", "postcode"),
                         ("eyfsp", "postcode"), ("family_hub_contacts", "postcode")):
        assert {p for p in column(read(generated, source), name) if p} <= directory, source
    hubs = {h["id"] for loc in yaml.safe_load((generated / "localities.yaml").read_text())[
        "localities"] for h in loc["hubs"]}
    assert set(column(read(generated, "family_hub_contacts"), "hub_id")) <= hubs


def _truth(ws: Path) -> tuple[pa.Table, dict[tuple[str, str, str], int]]:
    links = pq.read_table(ws / "synth-truth" / "links" / f"{LA}.parquet")
    key = zip(links.column("source").to_pylist(), links.column("record_id").to_pylist(),
              links.column("role").to_pylist(), strict=True)
    return links, dict(zip(key, links.column("person_id").to_pylist(), strict=True))


def test_records_carry_realistic_faults_that_the_truth_resolves(generated: Path) -> None:
    people = pq.read_table(generated / "synth-truth" / "people" / f"{LA}.parquet")
    clean = dict(zip(people.column("person_id").to_pylist(),
                     people.column("forename").to_pylist(), strict=True))
    _, person = _truth(generated)
    mat = read(generated, "maternity")
    differs = [
        clean[person[("maternity", rid, "mother")]] != name
        for rid, name in zip(column(mat, "record_id"), column(mat, "mother_forename"),
                             strict=True)
    ]
    share = sum(differs) / len(differs)
    assert 0.01 < share < 0.10  # typos and nicknames, as in real returns
    assert 0.001 < sum(v is None for v in column(mat, "mother_postcode")) / mat.num_rows < 0.05


def test_the_planted_effects_are_there_to_be_found(generated: Path) -> None:
    effects = Effects()
    _, person = _truth(generated)
    hub = read(generated, "family_hub_contacts")
    antenatal = {person[("family_hub_contacts", c, "person")]
                 for c, kind in zip(column(hub, "contact_id"), column(hub, "session_type"),
                                    strict=True) if kind == "antenatal"}
    mat = read(generated, "maternity")
    mothers = np.array([person[("maternity", r, "mother")] for r in column(mat, "record_id")])
    attended = np.isin(mothers, list(antenatal))
    booking = column(mat, "gestation_at_booking_days").astype(float)
    shift = booking[attended].mean() - booking[~attended].mean()
    # Attenders book earlier by about the planted shift (-1.5 weeks = -10.5 days).
    assert shift < 0.5 * effects.antenatal_attendance_booking_shift_weeks * 7
    weight = np.array([w if w is not None else -1 for w in column(mat, "birth_weight_g")])
    term = (column(mat, "gestational_age_weeks").astype(int) >= 37) & (
        column(mat, "birth_outcome") == "live") & (weight > 0)
    early = booking <= 76
    lbw = weight < 2500
    assert lbw[term & early].mean() < lbw[term & ~early].mean()


def test_an_existing_output_is_refused_in_one_sentence(generated: Path) -> None:
    before = sorted(p.name for p in (generated / "incoming").iterdir())
    result = outcomes("synth", str(generated), "--seed", "9")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and "already exists" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (generated / "incoming").iterdir()) == before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("E09000030", "E09999999"), "not an English children's services authority"),
    ],
)
def test_an_unknown_borough_is_one_sentence(tmp_path: Path, edit: tuple[str, str],
                                            message: str) -> None:
    ws = fresh_copy(tmp_path, "ws")
    path = ws / "workspace.yaml"
    path.write_text(path.read_text().replace(*edit))
    geo = ws / "geography.yaml"
    geo.write_text(geo.read_text().replace(*edit))
    result = outcomes("synth", str(ws))
    assert result.returncode == 2 and message in result.stderr
    assert not (ws / "incoming").exists() and not (ws / "synth-truth").exists()


def test_a_scale_the_geography_cannot_support_is_refused(tmp_path: Path) -> None:
    ws = fresh_copy(tmp_path, "ws")
    (ws / "geography.yaml").unlink()
    result = outcomes("synth", str(ws), "--scale", "borough")
    assert result.returncode == 2 and "needs the workspace's LSOAs" in result.stderr
    assert not (ws / "incoming").exists()


def whole_or_nothing(ws: Path) -> str:
    """'nothing' (no dataset), 'whole' (every source and the truth's manifest) or 'part'."""
    incoming = ws / "incoming"
    if not incoming.exists() and not (ws / "synth-truth").exists():
        return "nothing"
    whole = ({p.name for p in incoming.iterdir()} == SOURCES if incoming.exists() else False)
    return "whole" if whole and (ws / "synth-truth" / "manifest.json").exists() else "part"


def test_a_killed_run_leaves_no_dataset_behind(tmp_path: Path) -> None:
    ws = fresh_copy(tmp_path, "ws")
    exe = Path(sys.executable).with_name("outcomes")
    for delay in (0.8, 1.6, 2.4):
        proc = subprocess.Popen([str(exe), "synth", str(ws), "--years", "5", "--force"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Either nothing was moved into place, or the whole dataset was: never a part.
        assert whole_or_nothing(ws) in ("nothing", "whole"), delay
    # A dataset already in place survives a killed run that would have replaced it.
    assert outcomes("synth", str(ws), "--years", "1", "--force").returncode == 0
    assert whole_or_nothing(ws) == "whole"
    proc = subprocess.Popen([str(exe), "synth", str(ws), "--years", "5", "--force"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.6)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert whole_or_nothing(ws) == "whole"
    # A later run cleans up any staging folder the killed ones left.
    assert outcomes("synth", str(ws), "--years", "1", "--force").returncode == 0
    assert not list(ws.glob(".synth-staging-*"))


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real 4 MB file system (tmpfs), so a full disk is a real full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"this test mounts a tmpfs (needs root): {done.stderr}"
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_sentence_and_leaves_nothing(tiny_disk: Path) -> None:
    ws = fresh_copy(tiny_disk, "ws")
    before = sorted(p.name for p in ws.iterdir())
    result = outcomes("synth", str(ws), "--years", "2")
    assert result.returncode == 2, result.stderr
    assert "is full; nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in ws.iterdir()) == before


def test_the_workspace_still_checks_clean_with_its_data_beside_it(generated: Path) -> None:
    result = outcomes("check", str(generated))
    assert result.returncode == 0, result.stdout
    assert "0 errors, 0 warnings" in result.stdout
