"""CLI commands: augment preview, augment list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xrayssl.cli.layout import command_group


def register(app: typer.Typer) -> None:
    augment_app = command_group(
        "augment", "Augmentation policies: list the ops, preview a policy on images.")
    app.add_typer(augment_app, name="augment")

    @augment_app.command("preview")
    def preview_command(
        policy: Annotated[str, typer.Option(
            help="policy spec, e.g. 'crop(scale=0.3-1)+flip+chessboard(grid=4-8)', or two "
                 "views 'A | B'")],
        images: Annotated[Path, typer.Option(help="a prepared cache or a folder of images")],
        out: Annotated[Path, typer.Option(help="PNG file to write")],
        n_images: Annotated[int, typer.Option(min=1, max=64)] = 4,
        draws: Annotated[int, typer.Option(min=1, max=32)] = 6,
        size: Annotated[int | None, typer.Option(
            min=16, help="side of the square images (default: the cache's own side, or 224 "
                         "for a folder of images)")] = None,
        seed: Annotated[int, typer.Option()] = 0,
    ) -> None:
        """Originals and several random draws of POLICY per image, in one labelled grid."""
        from xrayssl.augment.preview import load_preview_images, save_preview
        from xrayssl.augment.views import parse_views

        parsed = parse_views(policy)  # fail on a bad spec before reading any image
        pixels = load_preview_images(images, n_images, size, seed)
        written = save_preview(pixels, parsed, out, draws=draws, seed=seed)
        views = "" if parsed.symmetric else " per view"
        typer.echo(f"wrote {written} ({pixels.shape[0]} images of {pixels.shape[1]} px x "
                   f"{draws} draws{views} of {parsed.spec})")

    @augment_app.command("list")
    def list_command() -> None:
        """Every op with its parameters, defaults and allowed values."""
        from xrayssl.augment.ops import OPS
        from xrayssl.augment.spec import ALIASES

        aliases = {target: alias for alias, target in ALIASES.items()}
        for name in OPS.names():
            cls = OPS.get(name)
            alias = f" (alias: {aliases[name]})" if name in aliases else ""
            summary = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            summary = " ".join(summary.replace("``", "").split())
            typer.echo(f"{name}{alias}: {summary}")
            for param in cls.params:
                typer.echo(f"    {param.describe()}")
        typer.echo("\nCompose with '+', e.g. crop(scale=0.3-1)+flip+rotation(deg=15); "
                   "a-b is a uniform range; 'identity' is no augmentation.")
