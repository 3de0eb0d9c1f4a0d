"""The areas to generate for: one `LaFrame` per local authority in the chosen scale.

Borough scale uses the workspace's own geography (its LSOAs, and its localities' hubs);
London and England use the reference geography shipped with the product. Every area an
LA frame holds is a real ONS code, so every generated record lives in a real place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common_outcomes.errors import UserError
from common_outcomes.geography.reference import england_msoas, local_authorities, london_lsoas
from common_outcomes.strategy import Workspace
from common_outcomes.synth.spec import Scale, rng_for


@dataclass(frozen=True, eq=False)
class LaFrame:
    index: int  # position in the run; picks the LA's block of synthetic NHS numbers
    code: str
    name: str
    la_number: int  # DfE's three-digit LA number, used in UPNs
    region_code: str
    area_type: str  # "lsoa" or "msoa"
    area_codes: npt.NDArray[np.str_]
    area_weights: npt.NDArray[np.float64]  # share of the LA's children living in each area
    area_deprivation: npt.NDArray[np.float64]  # latent, mean 0 sd 1; higher is more deprived
    hub_ids: npt.NDArray[np.str_]
    hub_names: npt.NDArray[np.str_]
    area_hub: npt.NDArray[np.int64]  # each area's nearest hub, as an index into hub_ids


def _area_traits(seed: int, la_code: str, n: int) -> tuple[npt.NDArray[np.float64], ...]:
    rng = rng_for(seed, la_code, "areas")
    weights = rng.gamma(8.0, 1.0, n)
    return weights / weights.sum(), rng.standard_normal(n)


def _generic_hubs(la_code: str, la_name: str, n_areas: int) -> tuple[
    npt.NDArray[np.str_], npt.NDArray[np.str_], npt.NDArray[np.int64]
]:
    """Four hubs for an LA with no workspace: areas split into four contiguous groups."""
    hubs = 4 if n_areas >= 4 else max(n_areas, 1)
    ids = np.array([f"{la_code.lower()}-hub-{i + 1}" for i in range(hubs)])
    names = np.array([f"{la_name} Family Hub {i + 1}" for i in range(hubs)])
    return ids, names, (np.arange(n_areas) * hubs // max(n_areas, 1)).astype(np.int64)


def borough_frame(workspace: Workspace, seed: int) -> LaFrame:
    geo = workspace.geography
    if geo is None or not geo.lsoas:
        raise UserError("Borough scale needs the workspace's LSOAs; run 'outcomes geography' "
                        "to write geography.yaml first.")
    code = workspace.settings.borough.code
    la = {r.la_code: r for r in local_authorities()}.get(code)
    if la is None:
        raise UserError(f"'{code}' is not an English children's services authority the "
                        "generator knows; check borough.code in workspace.yaml.")
    lsoas = sorted(geo.lsoas, key=lambda a: a.code)
    area_codes = np.array([a.code for a in lsoas])
    weights, deprivation = _area_traits(seed, code, len(lsoas))
    hub_ids, hub_names, area_hub = _workspace_hubs(workspace, [a.ward for a in lsoas], seed)
    return LaFrame(0, code, la.la_name, la.old_la_code, la.region_code, "lsoa", area_codes,
                   weights, deprivation, hub_ids, hub_names, area_hub)


def _workspace_hubs(workspace: Workspace, area_wards: list[str], seed: int) -> tuple[
    npt.NDArray[np.str_], npt.NDArray[np.str_], npt.NDArray[np.int64]
]:
    """Each LSOA's hub: one of its locality's hubs (by its ward), chosen once per seed."""
    hubs = [(h.id, h.name, loc) for loc in workspace.localities for h in loc.hubs]
    if not hubs:
        code = workspace.settings.borough.code
        return _generic_hubs(code, workspace.settings.borough.name, len(area_wards))
    rng = rng_for(seed, workspace.settings.borough.code, "hubs")
    area_hub = np.zeros(len(area_wards), dtype=np.int64)
    for i, ward in enumerate(area_wards):
        local = [k for k, (_, _, loc) in enumerate(hubs) if ward in loc.wards]
        area_hub[i] = local[int(rng.integers(len(local)))] if local else int(
            rng.integers(len(hubs)))
    return (np.array([h[0] for h in hubs]), np.array([h[1] for h in hubs]), area_hub)


def _frames_from(rows: list[tuple[str, str]], seed: int, area_type: str) -> list[LaFrame]:
    """Frames from (la_code, area_code) pairs, for the reference geographies."""
    las = {r.la_code: r for r in local_authorities()}
    by_la: dict[str, list[str]] = {}
    for la_code, area in rows:
        by_la.setdefault(la_code, []).append(area)
    frames: list[LaFrame] = []
    for i, la_code in enumerate(sorted(c for c in by_la if c in las)):
        la = las[la_code]
        codes = np.array(sorted(by_la[la_code]))
        weights, deprivation = _area_traits(seed, la_code, len(codes))
        hub_ids, hub_names, area_hub = _generic_hubs(la_code, la.la_name, len(codes))
        frames.append(LaFrame(i, la_code, la.la_name, la.old_la_code, la.region_code, area_type,
                              codes, weights, deprivation, hub_ids, hub_names, area_hub))
    return frames


def frames_for(scale: Scale, workspace: Workspace, seed: int) -> list[LaFrame]:
    if scale is Scale.BOROUGH:
        return [borough_frame(workspace, seed)]
    if scale is Scale.LONDON:
        return _frames_from([(r.la_code, r.lsoa_code) for r in london_lsoas()], seed, "lsoa")
    return _frames_from([(r.utla_code, r.msoa_code) for r in england_msoas()], seed, "msoa")
