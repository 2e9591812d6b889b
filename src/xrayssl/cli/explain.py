"""CLI commands: gradcam report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xrayssl.data.cache import INDEX_FILE, PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import ENCODER_FILE, PROBE_FILE


def open_images(images: Path, out: Path, size: int) -> PreparedCache:
    """A prepared cache as is; any other source is prepared once into ``out/prepared``."""
    if (images / INDEX_FILE).is_file():
        return PreparedCache.open(images)
    if not images.exists():
        raise XraySSLError(f"--images {images} does not exist")
    from xrayssl.data.prepare import prepare_cache
    from xrayssl.data.sources import load_source

    records = load_source(images)
    return prepare_cache(records, out / "prepared", size=size)


def register(app: typer.Typer) -> None:
    @app.command("gradcam")
    def gradcam_command(
        encoder: Annotated[Path, typer.Option(help=f"{ENCODER_FILE}, or a run folder holding "
                                              f"{ENCODER_FILE} and {PROBE_FILE}")],
        images: Annotated[Path, typer.Option(help="a prepared cache, or an image source "
                                             "(prepared into OUT/prepared)")],
        out: Annotated[Path, typer.Option(help="folder for overlays, sheet and scores")],
        probe: Annotated[Path | None, typer.Option(
            help="probe.json: the CAM target is its abnormality logit. Without it (and no "
                 "probe.json beside the encoder) the target is the image's own embedding")] = None,
        compare: Annotated[str, typer.Option(
            help="more encoders (files or run folders), comma-separated, shown beside the "
                 "first; each uses the probe.json in its own folder")] = "",
        split: Annotated[str | None, typer.Option(
            help="split to explain, or 'all' (default: test, else val, else all, for a "
                 "prepared cache; all images of any other --images source)")] = None,
        max_images: Annotated[int, typer.Option(min=1)] = 64,
        per_kind: Annotated[int, typer.Option(
            min=1, help="rows per kind (TP, FN, FP) in the comparison sheet")] = 3,
        on: Annotated[str, typer.Option(
            help="draw CAMs over the 'original' image (resized like the cache) or the "
                 "'prepared' (CLAHE) one")] = "original",
        seed: Annotated[int, typer.Option()] = 0,
        device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ...")] = None,
    ) -> None:
        """Grad-CAM overlays, a TP/FN/FP comparison sheet and localization scores."""
        from xrayssl.explain.run import explain_models, load_model

        if on not in ("original", "prepared"):
            raise XraySSLError(f"--on must be 'original' or 'prepared', not {on!r}")
        first = load_model(encoder, probe)
        models = [first]
        for item in (part.strip() for part in compare.split(",")):
            if not item:
                continue
            other = load_model(Path(item))
            if (other.probe_linear is None) != (first.probe_linear is None):
                raise XraySSLError(
                    f"--compare {item}: {'no' if other.probe_linear is None else 'a'} probe.json "
                    "beside it, unlike the first encoder; compare like with like (all with "
                    "their probes, or all probe-free)"
                )
            if other.name in {m.name for m in models}:
                other.name = f"{other.name} ({Path(item).name})"
            models.append(other)
        image_size = int(getattr(first.encoder, "spec", {}).get("image_size", 224))
        if split is None and not (images / INDEX_FILE).is_file():
            split = "all"  # a folder given to be explained: every image of it, not its test
        cache = open_images(images, out, image_size)
        from xrayssl.cli.status_line import StatusLine

        say = StatusLine()
        summary = explain_models(
            models, cache, out, split=split, max_images=max_images, per_kind=per_kind,
            show_on="original" if on == "original" else "prepared", seed=seed, device=device,
            progress=say,
        )
        say.close()
        typer.echo(f"comparison sheet: {summary.sheet}")
        for name, score in summary.localization.items():
            if score is None:
                typer.echo(f"{name}: no lesion masks, no localization score")
            else:
                typer.echo(
                    f"{name}: pointing game {score['pointing_game']:.2f} strict, "
                    f"{score['pointing_game_tolerant']:.2f} within {score['tolerance']} px; "
                    f"CAM energy in lesion {score['energy_inside']:.3g} "
                    f"(chance {score['chance_energy']:.3g}) over {score['images']} abnormal images"
                    + (f"; {score['empty_cams']} empty CAMs (misses, no energy share)"
                       if score.get("empty_cams") else "")
                )

    @app.command("report")
    def report_command(
        study: Annotated[Path, typer.Argument(help="the study folder (runs/<study>)")],
        out: Annotated[Path | None, typer.Option(
            help="HTML file to write (default: STUDY/report.html)")] = None,
        gradcam: Annotated[bool | None, typer.Option(
            "--gradcam/--no-gradcam",
            help="run Grad-CAM for trials not explained yet (default: the study config's "
                 "report.gradcam)")] = None,
        quiet: Annotated[bool, typer.Option(help="no progress messages")] = False,
    ) -> None:
        """One self-contained HTML page: data, policies, ranked results, Grad-CAM, versions."""
        from xrayssl.apps.study_gradcam import explain_findings
        from xrayssl.cli.status_line import StatusLine
        from xrayssl.findings.collect import collect
        from xrayssl.report.html import render_report

        say = StatusLine(quiet=quiet)
        say(f"reading the run folders of {study}")
        results = collect(study)
        if gradcam if gradcam is not None else results.report.gradcam:
            say("Grad-CAM of the finished trials where needed (the slow part; --no-gradcam "
                "skips it)")
            try:
                results, ran = explain_findings(results, progress=say)
            except XraySSLError as err:  # no cache: the report says Grad-CAM has not run
                typer.echo(f"warning: {err}", err=True)
            else:
                if not ran:
                    say("Grad-CAM: nothing new to explain")
        say("tables, figures and policy previews")
        path = render_report(results, out=out)
        say.close()
        typer.echo(f"report: {path}")
