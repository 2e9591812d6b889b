"""CLI commands: study run, study results, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from xrayssl.cli.layout import command_group
from xrayssl.cpu_share import usable_cpus
from xrayssl.runs.folder import StudyFolder

if TYPE_CHECKING:
    from xrayssl.config.study import StudyConfig
    from xrayssl.data.cache import PreparedCache

# The storage URL of `study run`, read from the environment when --storage is not given.
STORAGE_ENV = "XRAYSSL_STORAGE"

study_app = command_group(
    "study", "Compare augmentation policies: plan or run a study, rebuild its results.")


def _share_cores(workers: int) -> int:
    """Threads per local worker so that the workers together fill the machine once."""
    return max(1, usable_cpus() // max(1, workers))


@study_app.command("run")
def run_command(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="study YAML")],
    storage: Annotated[str | None, typer.Option(
        envvar=STORAGE_ENV,
        help="Optuna storage URL shared by workers, e.g. postgresql://user@host/db "
             "(default: sqlite file in the study folder); the password from PGPASSWORD or "
             "~/.pgpass, not the URL")] = None,
    n_trials: Annotated[int | None, typer.Option(
        min=1, help="stop this worker after this many trials")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="local worker processes sharing the study (cores are split)")] = 1,
    retry_failed: Annotated[bool, typer.Option(
        help="try again the trials that raised errors before")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress output")] = False,
    source: Annotated[str | None, typer.Option(
        help="with several data.sources: run only this source's study (e.g. aihub)")] = None,
) -> None:
    """Run (or continue) a study; several commands on one --storage share its trials.

    A config with several data.sources runs one study per source, one after the other, each
    in its own folder <name>-<source> (unless data.pooled is true)."""
    import torch

    from xrayssl.config.study import load_study_config
    from xrayssl.errors import XraySSLError
    from xrayssl.study.by_source import studies_by_source
    from xrayssl.study.trial import check_study, prepare_study_data

    config = load_study_config(config_path)
    check_study(config)
    torch.set_num_threads(_share_cores(workers))
    cache = prepare_study_data(config, progress=not quiet)
    studies = studies_by_source(config, cache)
    if source is not None:
        wanted = f"{config.name}-{source}"
        chosen = [study for study in studies if study.name == wanted]
        if not chosen:
            names = [study.name.removeprefix(f"{config.name}-") for study in studies]
            raise XraySSLError(f"--source {source}: {config_path} has no such source study; "
                               f"its sources: {', '.join(names) if len(studies) > 1 else 'one'}")
        studies = chosen
    failed = False
    for study in studies:
        if len(studies) > 1 or source is not None:
            typer.echo(f"study {study.name}: body parts {', '.join(study.data.body_parts or [])}",
                       err=True)
        extra = ["--source", study.name.removeprefix(f"{config.name}-")] if (
            study.name != config.name) else []
        failed |= _run_one_study(study, cache, config_path, extra, storage, n_trials, workers,
                                 retry_failed, quiet)
    if failed:
        raise typer.Exit(code=1)


def _run_one_study(
    config: StudyConfig, cache: PreparedCache, config_path: Path, extra: list[str],
    storage: str | None, n_trials: int | None, workers: int, retry_failed: bool, quiet: bool,
) -> bool:
    """Run one study with ``workers`` local processes; True when some trial failed."""
    from xrayssl.study.runner import StudyRunner
    from xrayssl.study.trial import PipelineTrial

    runner = StudyRunner(config, PipelineTrial(config, cache, progress=not quiet),
                         storage_url=storage, progress=None if quiet else sys.stderr,
                         retry_failed=retry_failed)
    helpers = []
    logs = StudyFolder(config.study_dir).logs
    for k in range(1, workers):
        logs.mkdir(parents=True, exist_ok=True)
        log = (logs / f"worker-{k}.log").open("a")
        # The URL goes by the environment, not argv: a command line is readable by every user.
        env = {**os.environ, "OMP_NUM_THREADS": str(_share_cores(workers)),
               STORAGE_ENV: runner.storage_url}
        command = [sys.executable, "-m", "xrayssl", "study", "run", str(config_path),
                   "--workers", "1", *extra]
        if retry_failed:
            command.append("--retry-failed")
        helpers.append(subprocess.Popen(command, stdout=log, stderr=log, env=env))
    if helpers:
        typer.echo(f"{len(helpers)} more worker(s) started; their output: {logs}", err=True)
    try:
        summary = runner.run(n_trials=n_trials)
    finally:
        for helper in helpers:
            helper.wait()
    typer.echo(f"results: xrayssl study results {config.study_dir}")
    return bool(summary.failed)


@study_app.command("plan")
def plan_command(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="study YAML")],
    storage: Annotated[str | None, typer.Option(
        envvar=STORAGE_ENV,
        help="the Optuna storage URL `study run` would use (default: the sqlite file in the "
             "study folder)")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="local workers the estimate spreads the trials over")] = 1,
    timing: Annotated[bool, typer.Option(
        "--timing/--no-timing", help="time a few pretraining steps for the estimate")] = True,
) -> None:
    """The trials a study would run, what is already done, and how long the rest may take."""
    import torch

    from xrayssl.config.study import load_study_config
    from xrayssl.study.plan import make_plan
    from xrayssl.study.trial import check_study

    config = load_study_config(config_path)
    check_study(config)
    torch.set_num_threads(_share_cores(workers))  # as `study run --workers` would
    typer.echo(make_plan(config, storage_url=storage, workers=workers, timing=timing).render())


@study_app.command("results")
def results_command(
    study: Annotated[Path, typer.Argument(metavar="STUDY", help="study folder: runs/<name>")],
    n_bootstrap: Annotated[int, typer.Option(min=100, help="paired bootstrap draws")] = 1000,
) -> None:
    """Rebuild the ranked tables, significance and per-op effects from the run folders."""
    from xrayssl.findings.collect import write_results
    from xrayssl.findings.policy_ranking import closing_lines
    from xrayssl.findings.results_tables import render_markdown
    from xrayssl.report.figure_files import write_figures

    results = write_results(study, n_boot=n_bootstrap)
    figures = write_figures(results)
    typer.echo(render_markdown(results))
    for line in closing_lines(results):  # the selection over seeds, then the headline
        typer.echo(line)
    typer.echo(f"written: {StudyFolder(study).results}/ (answer.csv, answer.tex, ranking.csv, "
               f"runs.csv, results.md, ...; {len(figures)} figure files in figures/)", err=True)


def demo_budget_help() -> str:
    """The --budget help, read from the presets that run."""
    from xrayssl.apps.demo import BUDGETS

    default = BUDGETS["default"]["halving"]
    rungs = ", ".join(str(r) for r in default["rungs"])
    return (f"tiny (a smoke run of a few minutes) | default (6 policies x 2 methods, halved over "
            f"rungs of {rungs} epochs, the finalists and the base with "
            f"{len(default['final_seeds'])} seeds, then the 3 floors: 41 trials; `xrayssl study "
            "plan configs/demo.yaml` lists them) | long")


def register(app: typer.Typer) -> None:
    app.add_typer(study_app)

    @app.command("demo")
    def demo_command(
        out: Annotated[Path, typer.Option(help="where the demo's study folder goes")] = Path(
            "runs"),
        full: Annotated[bool, typer.Option(
            help="all 32 subsets of the five ops instead of the 6-policy ablation")] = False,
        budget: Annotated[str, typer.Option(
            help=demo_budget_help())] = "default",
    ) -> None:
        """Synthetic data -> study (SimCLR, BYOL x crop + five ops) -> results -> report."""
        from xrayssl.apps.demo import run_demo

        run_demo(out, budget=budget, full=full)  # ends with the selection and the headline
