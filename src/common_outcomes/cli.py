"""The `outcomes` command: thin argument parsing over `Project`; no logic lives here."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from common_outcomes import __version__
from common_outcomes.errors import InternalError, Issue, Severity, UserError

if TYPE_CHECKING:
    from common_outcomes.data.load import LoadResult
    from common_outcomes.synth.report import ReportRow

StrEnumT = TypeVar("StrEnumT", bound=StrEnum)

app = typer.Typer(
    name="outcomes",
    help="Hold a borough's outcomes-led early help strategy as checked data, and show it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

WORKSPACE = typer.Argument(Path("."), help="The workspace folder.", show_default=True)


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


class MapFormat(StrEnum):
    html = "html"
    json = "json"


class DataFormat(StrEnum):
    json = "json"
    yaml = "yaml"


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _print_issue(issue: Issue) -> None:
    style = "red" if issue.severity is Severity.ERROR else "yellow"
    where = f"{issue.location}: " if issue.location else ""
    hint = f" [dim]({escape(issue.hint)})[/dim]" if issue.hint else ""
    out.print(f"{escape(where)}[{style}]{issue.severity.value}[/{style}] "
              f"[bold]\\[{issue.code}][/bold] {escape(issue.message)}{hint}")


@app.command()
def check(
    workspace: Path = WORKSPACE,
    format: CheckFormat = typer.Option(CheckFormat.text, "--format", help="text or json."),
) -> None:
    """Check a workspace against its framework; exit 1 if there is any error."""
    from common_outcomes.project import Project

    project = Project.check(workspace)
    report = project.check_report()
    if format is CheckFormat.json:
        out.print_json(json.dumps(report))
    else:
        for issue in project.issues.sorted():
            _print_issue(issue)
        errors, warnings = report["errors"], report["warnings"]
        verdict = "[green]ok[/green]" if project.ok else "[red]failed[/red]"
        out.print(f"{verdict}: {errors} error{'s' * (errors != 1)}, "
                  f"{warnings} warning{'s' * (warnings != 1)} in {escape(str(workspace))}")
    raise typer.Exit(0 if project.ok else 1)


@app.command("map")
def map_(
    workspace: Path = WORKSPACE,
    out_file: Path = typer.Option(..., "--out", help="Where to write the page or JSON."),
    format: MapFormat = typer.Option(MapFormat.html, "--format", help="html or json."),
    as_of: str | None = typer.Option(None, "--as-of", help="The strategy as it stood on this "
                                     "day (YYYY-MM-DD): later changes undone, only the "
                                     "activities running that day."),
) -> None:
    """Write the strategy map: framework and priorities, contributions, golden threads, gaps."""
    from common_outcomes.project import Project
    from common_outcomes.reports.strategy_map import render_html

    project = Project.view(workspace)
    # With the published results when there are some: the same statuses as the pages.
    view = (project if as_of is None else project.as_of(_day(as_of, "--as-of"))).map(
        project.published())
    text = render_html(view) if format is MapFormat.html else json.dumps(view, indent=2) + "\n"
    _write_atomically(out_file, text)
    out.print(f"Wrote the strategy map to {escape(str(out_file))} "
              f"({len(view['priorities'])} priorities, {len(view['gaps'])} gaps).")


@app.command()
def framework(
    pin: str = typer.Option("london-cof@1.0", "--pin", help="Which release, as id@release."),
    format: DataFormat = typer.Option(DataFormat.yaml, "--format", help="json or yaml."),
) -> None:
    """Print a framework release as data."""
    import yaml

    from common_outcomes.errors import Issues
    from common_outcomes.framework.load import available_frameworks, load_framework

    releases = available_frameworks()
    if pin not in releases:
        raise UserError(f"There is no framework {pin}; available: {', '.join(releases)}.")
    issues = Issues()
    loaded = load_framework(releases[pin], issues)
    if loaded is None or issues.has_errors:
        raise UserError(f"Framework {pin} does not load cleanly.", issues.sorted())
    data = loaded.framework.model_dump(mode="json", exclude_none=True)
    if format is DataFormat.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


@app.command()
def schema(
    out_dir: Path = typer.Option(Path("schema"), "--out", help="Folder for the schema files."),
) -> None:
    """Write a JSON Schema for every YAML kind, so editors check files as you type."""
    from common_outcomes.project import Project

    for kind, text in Project.json_schemas().items():
        _write_atomically(out_dir / f"{kind}.schema.json", text)
    out.print(f"Wrote {len(Project.json_schemas())} schemas to {escape(str(out_dir))}.")


@app.command()
def geography(
    workspace: Path = WORKSPACE,
    source: Path | None = typer.Option(None, "--from", help="Folder of ONS lookups "
                                       "(la_all_codes.csv, london_lsoa21_to_ward.csv, "
                                       "boundaries/)."),
    postcodes: Path | None = typer.Option(None, "--postcodes", metavar="FILE",
                                          help="ONS's postcode directory (NSPL or ONSPD: the "
                                          "national zip as published, or its CSV): install "
                                          "the borough's postcodes to place records in small "
                                          "areas."),
    la: str | None = typer.Option(None, "--la", help="Borough code; default: the workspace's."),
) -> None:
    """Write the workspace's geography.yaml (wards and LSOAs) from ONS lookups, and/or
    install its postcode directory from ONS's NSPL or ONSPD."""
    from common_outcomes.documents import dump_document
    from common_outcomes.geography import geography_from_ons
    from common_outcomes.geography.postcodes import install_postcodes

    if source is None and postcodes is None:
        raise UserError("Give --from (a folder of ONS lookups) or --postcodes (ONS's postcode "
                        "directory), or both.")
    code = la or _borough_code(workspace)
    if source is not None:
        doc = geography_from_ons(source, code)
        text = dump_document(doc, "Written by `outcomes geography`; regenerate rather than "
                             "edit.")
        _write_atomically(workspace / "geography.yaml", text)
        out.print(f"Wrote {workspace / 'geography.yaml'}: {doc.la.name}, {len(doc.wards)} "
                  f"wards, {len(doc.lsoas)} LSOAs.")
    if postcodes is not None:
        done = install_postcodes(workspace, postcodes, code)
        out.print(f"Installed {done.kept:,} postcodes of {code} ({done.terminated:,} of them "
                  f"terminated, kept for older records) from {done.rows_read:,} rows of "
                  f"{escape(postcodes.name)} in {done.seconds:.1f}s as {escape(str(done.path))}"
                  + (f"; {done.without_lsoa:,} without a 2021 LSOA left out"
                     if done.without_lsoa else "")
                  + ". Load again, or 'outcomes load --reassign', to place stored records "
                  "with it.")


@app.command()
def synth(
    workspace: Path = WORKSPACE,
    scale: str = typer.Option("borough", "--scale",
                              help="borough, london (33 boroughs) or england (every LA)."),
    years: int = typer.Option(5, "--years", help="How many financial years, ending with "
                              "--last-year."),
    seed: int = typer.Option(1, "--seed", help="The same seed gives byte-identical files."),
    output_format: str = typer.Option("parquet", "--format", help="parquet or csv."),
    last_year: int = typer.Option(2024, "--last-year",
                                  help="The last financial year's start (2024 -> 2024/25)."),
    report: bool = typer.Option(False, "--report", help="Show the calibration report."),
    force: bool = typer.Option(False, "--force", help="Replace existing synthetic data."),
) -> None:
    """Write synthetic partner data (every source, and a separate truth folder)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from common_outcomes.project import Project
    from common_outcomes.synth.spec import OutputFormat, Scale, SynthSpec

    spec = SynthSpec(_choice(Scale, scale, "--scale"), years, seed,
                     _choice(OutputFormat, output_format, "--format"), last_year)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("Generating", total=None)

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, description=f"Generating {name}", completed=done, total=total)

        result = Project.synthesize(workspace, spec, force=force, progress=step)
    out.print(f"Wrote {sum(result.rows.values()):,} records in {result.files} files to "
              f"{escape(str(result.incoming))} in {result.seconds:.1f}s; the truth file is in "
              f"{escape(str(result.truth))} (keep it apart from the sources).")
    outside = [r for r in result.report if not r.within]
    if report:
        _print_report(result.report)
    out.print(f"Calibration: {len(result.report) - len(outside)} of {len(result.report)} "
              "generated rates within tolerance of the published ones"
              f"{'' if report else ' (--report shows them)'}.")


@app.command()
def load(
    args: list[str] = typer.Argument(None, metavar="[DIR] SOURCE FILE...",
                                     help="The workspace folder (default: here), the source "
                                          "id and the files to load."),
    all_waiting: bool = typer.Option(False, "--all", help="Load everything waiting in "
                                     "incoming/ for every declared source."),
    key_file: Path | None = typer.Option(None, "--key-file", help="The pseudonymisation key "
                                         "(default: the file named by OUTCOMES_KEY_FILE)."),
    again: bool = typer.Option(False, "--reassign", help="Place the stored versions of SOURCE "
                               "(default: every source with postcodes) in small areas again "
                               "with the current postcode directory, as new versions."),
) -> None:
    """Check, pseudonymise and store partner files; rejected files leave the store unchanged."""
    from common_outcomes.project import Project

    workspace, rest = _workspace_and_rest(args)
    if again:
        if all_waiting or len(rest) > 1:
            raise UserError("--reassign takes at most a source (outcomes load [DIR] --reassign "
                            "[SOURCE]): no files and no --all.")
        results = Project.open(workspace).reassign(rest[0] if rest else None)
        _print_loads(results)
        return
    if all_waiting and rest:
        raise UserError("Give either --all or a source and files, not both.")
    if not all_waiting and len(rest) < 2:
        raise UserError("Name a source and at least one file (outcomes load [DIR] SOURCE "
                        "FILE...), or use --all.")
    source = None if all_waiting else rest[0]
    files = [] if all_waiting else [Path(f) for f in rest[1:]]
    results = Project.open(workspace).load_data(source, files, all_waiting, key_file)
    _print_loads(results)


def _print_loads(results: list[LoadResult]) -> None:
    """Each load's outcome, its notes and problems; exit 1 if any file was rejected."""
    styles = {"loaded": "green", "unchanged": "dim", "quarantined": "yellow", "rejected": "red"}
    for r in results:
        style = styles[r.status]
        out.print(f"[{style}]{r.status}[/{style}] {escape(r.source)}: {escape(r.message)}"
                  + (f" [dim](read as {r.encoding})[/dim]" if r.encoding else ""))
        for note in r.notes:
            out.print(f"    {escape(note)}")
        for code, count in r.by_code.items():
            out.print(f"    {count:>8,}  {code}")
        for problem in r.problems[:5]:
            where = f"row {problem.row}" if problem.row else "file"
            col = f", {problem.column}" if problem.column else ""
            out.print(f"    [dim]{where}{escape(col)}: {escape(problem.message)}"
                      f"{' (' + escape(problem.value) + ')' if problem.value else ''}[/dim]")
        for report in r.reports:
            out.print(f"    report: {escape(str(report))}")
    rejected = sum(r.status == "rejected" for r in results)
    out.print(f"{len(results)} file{'s' * (len(results) != 1)}: "
              f"{sum(r.status == 'loaded' for r in results)} loaded, "
              f"{sum(r.status == 'quarantined' for r in results)} with rows quarantined, "
              f"{sum(r.status == 'unchanged' for r in results)} unchanged, {rejected} rejected.")
    raise typer.Exit(1 if rejected else 0)


@app.command()
def declare(
    file: Path = typer.Argument(..., help="A partner's file (CSV, XLSX or Parquet)."),
    source: str = typer.Option(..., "--source", help="The new source's id, e.g. cla-903."),
    out_path: Path | None = typer.Option(None, "--out", help="Where to write the draft "
                                         "(default: sources/SOURCE.yaml here)."),
    force: bool = typer.Option(False, "--force", help="Write over an existing file."),
) -> None:
    """Draft a source declaration from a file's header and first rows, for you to check."""
    from common_outcomes.project import Project

    target = out_path or Path("sources") / f"{source}.yaml"
    drafted = Project.declare(file, source, target, force=force)
    if drafted.builtin:
        out.print(f"Wrote {escape(str(target))}: {escape(drafted.file)} has the columns of "
                  f"the built-in [bold]{escape(drafted.builtin)}[/bold], so the draft adopts it.")
    else:
        out.print(f"Wrote {escape(str(target))}: {drafted.columns} columns guessed from "
                  f"{drafted.rows_sampled:,} rows of {escape(drafted.file)}"
                  + (f", key {escape(', '.join(drafted.key))}" if drafted.key else ", no key")
                  + (f", identifiers {escape(', '.join(drafted.identifiers))}"
                     if drafted.identifiers else "") + ".")
    out.print("Fill in partner and agreement, check every commented guess, then run "
              "`outcomes check`.")


@app.command()
def run(
    workspace: Path = WORKSPACE,
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (one machine) or spark."),
    master: str | None = typer.Option(None, "--master", help="Spark's master URL: local[*], "
                                      "spark://host:7077, yarn, ... (default: Spark's own)."),
    conf: list[str] = typer.Option([], "--conf", metavar="KEY=VALUE",
                                   help="The engine's configuration, repeatable: DuckDB's "
                                   "(threads=2) or Spark's (spark.executor.memory=4g)."),
    data: str | None = typer.Option(None, "--data", metavar="PATH|URI",
                                    help="Where Spark reads a copy of the store's "
                                    "versions folder (default: the store itself)."),
    first: str | None = typer.Option(None, "--from", metavar="PERIOD",
                                     help="Only periods from the start of this one "
                                     "(2022/23, 2022/23 Q1, 2022, May 2022)."),
    last: str | None = typer.Option(None, "--to", metavar="PERIOD",
                                    help="Only periods that end by the end of this one."),
) -> None:
    """Compute every defined indicator from the store into the results table."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from common_outcomes.project import Project

    settings = _engine_settings(engine, master, conf, data)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("Computing", total=None)

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, description=f"Computing {name}", completed=done, total=total)

        result = Project.open(workspace).run(step, engine, settings, first, last)
    out.print(f"Wrote {result.rows:,} rows to {escape(str(result.path))}: "
              f"{len(result.indicators)} indicators computed, {len(result.published_only)} "
              f"with published figures only ({result.passes_computed} passes computed, "
              f"{result.passes_reused} unchanged since the last run).")
    if result.periods_left_out or result.provisional:
        # docs/methods.md, "Periods: complete, provisional, not yet due".
        out.print(f"{result.periods_left_out:,} rows of periods the data do not cover (not yet "
                  f"due, before the data, or part of a period) were left out; "
                  f"{result.provisional:,} of a partly covered latest period are provisional.")
    if result.why_empty:
        out.print(f"{len(result.why_empty)} defined indicators have no figure:")
        for indicator, reason in sorted(result.why_empty.items()):
            out.print(f"  {escape(indicator)}: {escape(reason)}")
    if result.without_data:
        out.print("Run 'outcomes load' for the sources with no data.")
    if result.revisions:
        out.print(f"{len(result.revisions)} published figures were revised by a newer release "
                  f"(the newer is used; all listed in {escape(str(result.revisions_path))}):")
        for revision in result.revisions[:SHOWN_REVISIONS]:
            out.print(f"  {escape(revision.sentence())}")
        if len(result.revisions) > SHOWN_REVISIONS:
            out.print(f"  and {len(result.revisions) - SHOWN_REVISIONS} more")


SHOWN_REVISIONS = 10


def _engine_settings(engine: str, master: str | None, conf: list[str],
                     data: str | None) -> dict[str, str]:
    from common_outcomes.engine.backends import ENGINES
    from common_outcomes.engine.backends.spark import DATA

    if engine not in ENGINES:
        raise UserError(f"Unknown engine '{engine}': use one of {', '.join(ENGINES)}.")
    if engine != "spark" and (master or data):
        raise UserError("--master and --data are Spark settings: add --engine spark.")
    settings = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--conf takes KEY=VALUE (as in spark.executor.memory=4g), "
                            f"not '{item}'.")
        settings[key.strip()] = value.strip()
    if master:
        settings["spark.master"] = master
    if data:
        settings[DATA] = data
    return settings


@app.command()
def explain(
    args: list[str] = typer.Argument(..., metavar="[DIR] INDICATOR",
                                     help="The workspace (default: here) and an indicator id."),
    dialect: str = typer.Option("duckdb", "--dialect", help="duckdb or spark."),
) -> None:
    """Print the SQL that computes an indicator, with a comment per step."""
    from common_outcomes.project import Project

    workspace, rest = _workspace_and_rest(args)
    if len(rest) != 1:
        raise UserError("Name one indicator to explain.")
    sys.stdout.write(Project.view(workspace).explain(rest[0], dialect))


@app.command()
def changes(
    args: list[str] = typer.Argument(..., metavar="[DIR] INDICATOR",
                                     help="The workspace (default: here) and an indicator id."),
    area: str | None = typer.Option(None, "--area", help="Only this area code."),
    period_type: str | None = typer.Option(None, "--period-type",
                                           help="Only this period type, e.g. financial_year."),
) -> None:
    """Change since the previous period and since the baseline, from the last run's results."""
    from rich.table import Table

    from common_outcomes.project import Project

    workspace, rest = _workspace_and_rest(args)
    if len(rest) != 1:
        raise UserError("Name one indicator.")
    rows = Project.view(workspace).changes(rest[0], area, period_type)
    table = Table(title=f"{rest[0]}: change since the previous period and since the baseline")
    for col in ("area", "period", "value", "since the previous period", "since the baseline"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for c in rows:
        table.add_row(escape(c.area_name), c.period, _number(c.value),
                      _change(c.change_since_previous, c.previous_comparison),
                      _change(c.change_since_baseline, c.baseline_comparison))
    out.print(table)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _change(change: float | None, comparison: str) -> str:
    return "-" if change is None else f"{change:+,.1f} ({comparison.lower()})"


def _workspace_and_rest(args: list[str] | None) -> tuple[Path, list[str]]:
    """`[DIR] ...`: the first argument is the workspace when it holds a workspace.yaml."""
    rest = list(args or [])
    if rest and (Path(rest[0]) / "workspace.yaml").is_file():
        return Path(rest.pop(0)), rest
    return Path("."), rest


@app.command()
def history(
    workspace: Path = WORKSPACE,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    output_format: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """List every version loaded into the store, with what it holds and where it stands."""
    from rich.table import Table

    from common_outcomes.project import Project

    versions = Project.store_of(workspace).history(source)
    if output_format == "json":
        out.print_json(json.dumps([
            {"version_id": v.version_id, "status": v.status,
             "current_periods": list(v.current_periods), **v.manifest.to_dict()}
            for v in versions]))
        return
    table = Table(title=f"{len(versions)} versions")
    for col in ("version", "source", "file", "periods", "accepted", "quarantined", "status",
                "loaded", "by"):
        table.add_column(col)
    for v in versions:
        m = v.manifest
        periods = ", ".join(m.periods) if len(m.periods) <= 3 else (
            f"{m.periods[0]} .. {m.periods[-1]} ({len(m.periods)})")
        file = m.file_name + (f" (placed again from {m.reassigned_from})"
                              if m.reassigned_from else "")
        table.add_row(v.version_id, m.source, file, periods, f"{m.rows_accepted:,}",
                      f"{m.rows_quarantined:,}", v.status, m.loaded_at, m.loaded_by)
    out.print(table)


@app.command()
def rollback(
    args: list[str] = typer.Argument(..., metavar="[DIR] VERSION",
                                     help="The workspace (default: here) and a version id."),
) -> None:
    """Make an earlier version current again for its periods (nothing is deleted)."""
    from common_outcomes.project import Project

    workspace, rest = _workspace_and_rest(args)
    if len(rest) != 1:
        raise UserError("Name one version to roll back to (see 'outcomes history').")
    store = Project.store_of(workspace)
    with store.lock():
        version = store.rollback(rest[0], by=_user())
    out.print(f"Version {escape(version.version_id)} of {escape(version.source)} is current "
              f"again for {', '.join(version.current_periods) or 'no period'}.")


@app.command()
def retention(
    workspace: Path = WORKSPACE,
    apply: bool = typer.Option(False, "--apply", help="Delete what has passed its retention "
                                                      "period (without it: only list it)."),
    today: str | None = typer.Option(None, "--today", help="Judge retention as of this date "
                                                           "(YYYY-MM-DD); default today."),
) -> None:
    """List, or with --apply delete, data past its retention period; every deletion is audited."""
    from datetime import date

    from common_outcomes.project import Project

    try:
        when = date.fromisoformat(today) if today else date.today()
    except ValueError:
        raise UserError(f"--today must be a date like 2026-03-31, not '{today}'.") from None
    store = Project.store_of(workspace)
    with store.lock():
        due = store.apply_retention(when, by=_user(), apply=apply)
    for d in due:
        out.print(f"{'deleted' if apply else 'due'}: {d.kind} data of {escape(d.source)} "
                  f"version {escape(d.version_id)} ({escape(d.file_name)}), retention ended "
                  f"{d.retention_until}")
    out.print(f"{len(due)} item{'s' * (len(due) != 1)} "
              f"{'deleted' if apply else 'past retention (use --apply to delete them)'}.")


@app.command()
def quality(
    workspace: Path = WORKSPACE,
    output_format: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Data quality by source, partner and period: completeness, validity, timeliness."""
    from dataclasses import asdict

    from rich.table import Table

    from common_outcomes.project import Project

    rows = Project.view(workspace).quality()
    if output_format == "json":
        out.print_json(json.dumps([asdict(r) for r in rows], default=str))
        return
    table = Table(title="Data quality of the current data")
    for col in ("source", "partner", "period", "rows", "complete", "least complete", "valid",
                "duplicates", "no small area", "due", "loaded", "late (days)"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.source, r.partner, r.period, f"{r.rows:,}", f"{r.completeness:.1%}",
                      r.least_complete, f"{r.validity:.1%}", f"{r.duplicates:,}",
                      f"{r.without_area:,}",
                      str(r.due or ""), str(r.loaded),
                      "" if r.days_late is None else str(max(r.days_late, 0)))
    out.print(table)


@app.command()
def export(
    workspace: Path = WORKSPACE,
    output_format: str = typer.Option("csv", "--format", help="csv or xlsx."),
    indicator: list[str] = typer.Option([], "--indicator", metavar="ID",
                                        help="Only this indicator (repeatable); default all."),
    out_file: Path | None = typer.Option(None, "--out", help="Where to write (default: "
                                         ".outcomes/exports/indicator_values.FORMAT)."),
) -> None:
    """Write the results table as CSV or XLSX, refusing if any cell would disclose."""
    from common_outcomes.project import Project

    done = Project.open(workspace).export(output_format, tuple(indicator), out_file)
    out.print(f"Wrote {done.rows:,} rows for {len(done.indicators)} indicators to "
              f"{escape(str(done.path))} (checked for disclosure: no small number shown or "
              "recoverable).")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _choice(enum: type[StrEnumT], value: str, option: str) -> StrEnumT:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise UserError(f"{option} must be one of {allowed}, not '{value}'.") from None


def _print_report(rows: list[ReportRow]) -> None:
    from rich.table import Table

    table = Table(title="Generated rates beside the published ones they aim at")
    for col in ("measure", "LA", "period", "generated", "published", "published for",
                "tolerance", "ok"):
        table.add_column(col, justify="right" if col in {"generated", "published",
                                                          "tolerance"} else "left")
    for r in rows:
        table.add_row(r.measure, r.la_code, r.period, f"{r.generated:,.2f}",
                      f"{r.published:,.2f}", f"{r.published_period} ({r.published_la})",
                      f"{r.tolerance:,.2f}", "yes" if r.within else "[red]NO[/red]")
    out.print(table)


def _borough_code(workspace: Path) -> str:
    from common_outcomes.documents import read_document
    from common_outcomes.errors import Issues
    from common_outcomes.strategy.models import WorkspaceDocument

    issues = Issues()
    doc = read_document(workspace / "workspace.yaml", {"workspace": WorkspaceDocument}, issues)
    if doc is None or not isinstance(doc.model, WorkspaceDocument):
        first = next(iter(issues.sorted()), None)
        raise UserError(f"Cannot read the borough code from {workspace / 'workspace.yaml'}"
                        f"{': ' + str(first) if first else ''}; pass --la.")
    return doc.model.borough.code


@app.command()
def serve(
    workspaces: list[Path] = typer.Argument(None, metavar="[DIR]...",
                                            help="The workspace folders (default: this one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", help="The port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes "
                                "(about one a core; they share the state's database)."),
) -> None:
    """Serve the web app; its state is in DATABASE_URL, else SQLite in .outcomes/."""
    _serve(workspaces or [Path(".")], host, port, workers)


def _serve(workspaces: list[Path], host: str, port: int, workers: int = 1) -> None:
    import socket

    import uvicorn

    from common_outcomes.web.app import FOLDERS, create_app

    application = create_app(workspaces)
    # Said in one sentence here, rather than by uvicorn's log after start-up.
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UserError(f"Cannot listen on {host}:{port} ({e.strerror}); choose another "
                            "with --port or --host.") from None
    err.print(f"Serving {', '.join(application.state.site.workspaces)} on "
              f"http://{host}:{port}/ (Ctrl+C stops it).")
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level="warning")
        return
    # Each worker process builds its own app from the folders (an app cannot be handed over).
    application.state.site.state.close()
    os.environ[FOLDERS] = os.pathsep.join(str(w.resolve()) for w in workspaces)
    uvicorn.run("common_outcomes.web.app:from_environment", factory=True, workers=workers,
                host=host, port=port, log_level="warning")


@app.command()
def demo(
    workspace: Path = typer.Argument(Path("examples/tower-hamlets"),
                                     help="The example workspace to build and serve."),
    years: int = typer.Option(5, "--years", help="How many years of synthetic data."),
    seed: int = typer.Option(1, "--seed", help="The synthetic data's seed."),
    key_file: Path = typer.Option(Path("build/demo-pseudonymisation.key"), "--key-file",
                                  help="The demo's pseudonymisation key, made when missing "
                                  "(outside the workspace, never in git)."),
    comparators: Path | None = typer.Option(None, "--comparators", help="A folder of "
                                            "published CSVs (Fingertips, DfE) to load instead "
                                            "of the carried comparators."),
    serving: bool = typer.Option(True, "--serve/--no-serve", help="Serve the app at the end "
                                 "(--no-serve: build, print the sign-in and stop)."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", help="The port to listen on."),
) -> None:
    """Build the example from synthetic data (check, synth, load, run), add a demo account
    and print its sign-in, then serve the app."""
    import getpass
    import secrets
    import shutil

    from common_outcomes.project import Project
    from common_outcomes.reference import comparator_files

    Project.open(workspace)  # an error-free workspace, before anything is built
    if not key_file.is_file():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
    _command("synth", str(workspace), "--scale", "borough", "--years", str(years), "--seed",
             str(seed), "--force")
    # The carried comparators (England, London, the borough's statistical neighbours), or
    # a folder of the user's own downloads.
    found = comparator_files() if comparators is None else sorted(comparators.glob("*.csv"))
    if not found:
        raise UserError(f"{comparators} holds no published CSV files to compare with."
                        if comparators else "The package carries no published comparators; "
                        "reinstall it, or give a folder of them with --comparators.")
    (workspace / "incoming" / "comparators").mkdir(parents=True, exist_ok=True)
    for path in found:
        shutil.copy(path, workspace / "incoming" / "comparators" / path.name)
    _command("load", str(workspace), "--all", "--key-file", str(key_file))
    _command("run", str(workspace))
    project = Project.view(workspace)
    email, password = project.demo_account(f"cli:{getpass.getuser()}")
    project.demo_rounds(f"cli:{getpass.getuser()}")  # made once: the example's assessments
    if project.demo_reviews():
        out.print("Added two quarterly reviews; the second stopped an activity and revised a "
                  f"target ({escape(str(workspace / 'history'))}).")
        _command("run", str(workspace))  # the revised target into the results
    out.print(f"\nSign in at http://{host}:{port}/ as [bold]{email}[/bold] with the password "
              f"[bold]{escape(password)}[/bold] (new each time the demo is built).")
    if serving:
        _serve([workspace], host, port)
    else:
        out.print(f"To serve it: outcomes serve {escape(str(workspace))} "
                  f"--port {port}")


@app.command()
def boundaries(
    workspace: Path = WORKSPACE,
    source: Path = typer.Option(..., "--from", help="Folder of ONS geography with "
                                "boundaries/ward/CODE.geojson (ONS ward boundaries)."),
    la: str | None = typer.Option(None, "--la", help="Borough code; default: the workspace's."),
) -> None:
    """Write the borough's ward shapes, simplified, for the web app's maps."""
    from common_outcomes.project import Project

    path, wards, points = Project.write_boundaries(workspace, source,
                                                   la or _borough_code(workspace))
    out.print(f"Wrote {escape(str(path))}: {wards} wards, {points:,} points.")


def _command(*args: str) -> None:
    """Another command, run as if typed: its own defaults, checks and output."""
    code = typer.main.get_command(app).main(list(args), prog_name="outcomes",
                                            standalone_mode=False)
    if isinstance(code, int) and code:
        raise typer.Exit(code)


references = typer.Typer(help="The reference tables the product carries (ONS geography, DfE "
                         "and OHID statistics, the SSD field names): list, update, rebuild.",
                         invoke_without_command=True)
app.add_typer(references, name="reference")


@references.callback()
def reference_list(ctx: typer.Context) -> None:
    """List the carried reference tables with their release and age."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import date

    from common_outcomes.reference import age, located, override_folder

    today = date.today()
    rows = sorted(located().values(), key=lambda found: found.table.kind)
    width = max(len(found.table.kind) for found in rows)
    for found in rows:
        t = found.table
        newest = "-" if t.data_to is None else t.data_to.isoformat()
        mark = " (updated)" if found.updated else ""
        out.print(f"{t.kind:<{width}}  {t.rows:>6} rows  data to {newest:<10}  "
                  f"{age(t.data_to, today):>10}  {escape(t.release)}{mark} "
                  f"[dim]({escape(t.publisher)}, {escape(t.licence)})[/dim]")
    out.print(f"Updates (outcomes reference update KIND FILE) go to {override_folder()}.")


@references.command("update")
def reference_update(
    kind: str = typer.Argument(..., help="The table to replace, as `outcomes reference` "
                               "lists it."),
    file: Path = typer.Argument(..., help="The newer published file, as downloaded."),
) -> None:
    """Replace one reference table from a newer published release you downloaded."""
    from common_outcomes.provenance import update
    from common_outcomes.reference import override_folder

    table = update(kind, file)
    out.print(f"Updated {kind} from {escape(str(file))}: {table.rows} rows, data to "
              f"{table.data_to}, in {override_folder()}.")


@references.command("build")
def reference_build(
    source: Path = typer.Option(..., "--from", help="The published originals: a folder with "
                                "data/geography, data/published and reference/ssd."),
    into: Path | None = typer.Option(None, "--out", help="Where to write the tables and "
                                     "manifest; default: the package's own (a checkout)."),
) -> None:
    """Rebuild every carried reference table and its manifest from the published originals."""
    from common_outcomes.provenance import build
    from common_outcomes.reference import DATA

    tables = build(source, DATA if into is None else into)
    out.print(f"Built {len(tables)} reference tables in {DATA if into is None else into}.")


users = typer.Typer(help="The web app's local accounts and their roles.", no_args_is_help=True)
app.add_typer(users, name="users")
ROLE = typer.Option("viewer", "--role", help="viewer, contributor, analyst or admin.")
EMAIL = typer.Option(..., "--email", help="The user's email address (their sign-in).")
NAME = typer.Option("", "--name", help="Their name as pages show it.")


@users.command("add")
def users_add(
    workspace: Path = WORKSPACE,
    email: str = EMAIL,
    name: str = NAME,
    role: str = ROLE,
    password: str = typer.Option(..., envvar="OUTCOMES_PASSWORD", prompt=True, hide_input=True,
                                 confirmation_prompt=True,
                                 help="Asked for when not in OUTCOMES_PASSWORD."),
) -> None:
    """Add a local account with a role in the workspace (Argon2-hashed password; audited)."""
    import getpass

    from common_outcomes.project import Project

    ws = Project.view(workspace).add_user(email, name, password, role,
                  f"cli:{getpass.getuser()}")
    out.print(f"Added {escape(email)} as {escape(role)} in {escape(ws)}.")


@users.command("invite")
def users_invite(workspace: Path = WORKSPACE, email: str = EMAIL, name: str = NAME,
                 role: str = ROLE) -> None:
    """Add an account without a password, for someone who signs in with OpenID Connect (the
    provider's account with this email is linked on first sign-in; audited)."""
    import getpass

    from common_outcomes.project import Project

    ws = Project.view(workspace).add_user(email, name, None, role, f"cli:{getpass.getuser()}")
    out.print(f"Invited {escape(email)} as {escape(role)} in {escape(ws)}: they sign in with "
              "the identity provider.")


@users.command("grant")
def users_grant(
    workspace: Path = WORKSPACE,
    email: str = typer.Option(..., "--email", help="The account's email address."),
    role: str = ROLE,
) -> None:
    """Give an existing account a role in the workspace (replacing any it had; audited)."""
    import getpass

    from common_outcomes.project import Project

    ws = Project.view(workspace).grant_role(email, role, f"cli:{getpass.getuser()}")
    out.print(f"{escape(email)} is now {escape(role)} in {escape(ws)}.")


@users.command("grant-review")
def users_grant_review(
    workspace: Path = WORKSPACE,
    email: str = typer.Option(..., "--email", help="The contributor's email address."),
    priority: str = typer.Option(..., "--priority", help="The priority whose quarterly "
                                 "reviews they may write."),
) -> None:
    """Let a contributor write the quarterly reviews of one priority (admins write any;
    audited)."""
    import getpass

    from common_outcomes.project import Project

    ws = Project.view(workspace).grant_review(email, priority, f"cli:{getpass.getuser()}")
    out.print(f"{escape(email)} may now write the reviews of {escape(priority)} in "
              f"{escape(ws)}.")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{option} '{text}' is not a date; write it as YYYY-MM-DD, for "
                        "example 2025-07-31.") from None


strategy = typer.Typer(help="Changes to the strategy's YAML, with why and the review that "
                       "decided them, and their history.", no_args_is_help=True)
app.add_typer(strategy, name="strategy")


@strategy.command("change")
def strategy_change(
    workspace: Path = WORKSPACE,
    why: str = typer.Option(..., "--why", help="Why the strategy changes (kept in the "
                            "history)."),
    stop_activity: str | None = typer.Option(None, "--stop-activity", help="Stop this "
                                             "activity on the effective day."),
    start_activity: str | None = typer.Option(None, "--start-activity", help="Start (or "
                                              "start again) this activity on the effective "
                                              "day."),
    revise_target: tuple[str, str, str, float] | None = typer.Option(
        None, "--revise-target", metavar="INDICATOR AREA PERIOD VALUE",
        help="Give this target (indicator, area, period) a new value."),
    move_ward: tuple[str, str] | None = typer.Option(
        None, "--move-ward", metavar="WARD LOCALITY", help="Move a ward to another locality."),
    effective: str | None = typer.Option(None, "--effective", help="The day it takes effect "
                                         "(YYYY-MM-DD; today when not given)."),
    review: int | None = typer.Option(None, "--review", help="The number of the quarterly "
                                      "review that decided it."),
) -> None:
    """Change the strategy's YAML (checked as `outcomes check` checks it before anything is
    written) and record it in the workspace's history."""
    import getpass

    from common_outcomes.project import Project
    from common_outcomes.strategy.changes import (
        Change,
        MoveWard,
        ReviseTarget,
        StartActivity,
        StopActivity,
    )

    asked: list[Change] = [
        *([StopActivity(stop_activity)] if stop_activity else []),
        *([StartActivity(start_activity)] if start_activity else []),
        *([ReviseTarget(*revise_target)] if revise_target else []),
        *([MoveWard(*move_ward)] if move_ward else [])]
    if len(asked) != 1:
        raise UserError("Give one change: --stop-activity, --start-activity, --revise-target "
                        "or --move-ward.")
    day = date.today() if effective is None else _day(effective, "--effective")
    made = Project.open(workspace).change_strategy(asked[0], why=why, effective=day,
                                                   by=f"cli:{getpass.getuser()}",
                                                   review=review)
    out.print(f"{escape(made.what[0])} Recorded as change {made.number} in "
              f"{escape(str(workspace / 'history'))}.")


@strategy.command("history")
def strategy_history(workspace: Path = WORKSPACE) -> None:
    """List the strategy's changes: when each took effect, what, why, by whom, which review."""
    from common_outcomes.project import Project

    found = Project.view(workspace).strategy_history()
    if not found:
        out.print("The strategy has not been changed through outcomes yet.")
    for c in found:
        review = f" (review {c.review})" if c.review else ""
        out.print(f"{c.number}. {c.effective.isoformat()}{review}: {escape(' '.join(c.what))} "
                  f"Why: {escape(c.why.rstrip('.'))}. By {escape(c.by)}.")


def _version(value: bool) -> None:
    if value:
        out.print(f"common-outcomes {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="Say each step on stderr (-vv: each SQL query too)."),
) -> None:
    """common-outcomes."""
    _log_to_stderr(verbose)


def _log_to_stderr(verbose: int) -> None:
    """The package's loggers (one per module) on stderr: INFO with -v, DEBUG with -vv; quiet
    by default, so stdout and stderr are what the commands print."""
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    package = logging.getLogger("common_outcomes")
    package.addHandler(handler)
    package.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)


def main() -> None:
    """Entry point: a user's mistake is one sentence on stderr and exit 2, never a traceback.

    Typer (standalone mode) handles usage errors and exit codes itself; a UserError
    raised anywhere below the commands is caught here. An InternalError (a fault in
    common-outcomes found where it happened) is said as one, with the details to report, and
    exit 3.
    """
    try:
        app()
    except UserError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        for issue in exc.issues[:20]:
            err.print(f"  {escape(str(issue))}")
        sys.exit(2)
    except InternalError as exc:
        err.print(f"[red]internal error:[/red] {escape(str(exc))}")
        err.print(escape(InternalError.HINT))
        for name, text in exc.details:
            err.print(f"  {escape(name)}:" + (f"\n{escape(text)}" if "\n" in text
                                              else f" {escape(text)}"))
        sys.exit(3)
