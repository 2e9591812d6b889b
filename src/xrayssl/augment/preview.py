"""Preview a policy: each image's original beside several random draws, in one labelled grid.

Images come from a prepared cache (a folder with ``index.json``) or from a folder of image
files (read, resized keeping aspect and padded to a square, no CLAHE; folders whose name ends
in ``-masks`` are skipped, as MURA-style roots keep lesion masks there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from xrayssl.augment.spec import Policy
from xrayssl.augment.views import TwoViews
from xrayssl.data.cache import INDEX_FILE, PreparedCache
from xrayssl.errors import XraySSLError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm")


FOLDER_SIZE = 224  # side of images read from a plain folder when no --size is given


def load_preview_images(
    source: Path, n_images: int, size: int | None, seed: int
) -> np.ndarray:
    """(n, size, size) uint8 picked at random (by ``seed``) from a cache or an image folder.

    ``size=None`` keeps a cache's own side (what pretraining sees), or 224 for a folder.
    """
    rng = np.random.default_rng(seed)
    if (source / INDEX_FILE).is_file():
        cache = PreparedCache.open(source)
        if len(cache) == 0:
            raise XraySSLError(f"{source}: the cache holds no images")
        size = cache.size if size is None else size
        picks = np.sort(rng.choice(len(cache), size=min(n_images, len(cache)), replace=False))
        return np.stack([resize_square(np.asarray(cache.images[i]), size) for i in picks])
    if not source.is_dir():
        raise XraySSLError(f"{source} is neither a prepared cache nor a folder of images")
    files = sorted(
        p for p in source.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.endswith("-masks") for part in p.relative_to(source).parts)
    )  # a MURA-style root keeps lesion masks in a "...-masks" folder beside the images
    if not files:
        raise XraySSLError(f"{source}: no image files ({', '.join(IMAGE_SUFFIXES)}) found; "
                           "give a folder of images or a prepared cache")
    from xrayssl.data.io import read_image

    size = FOLDER_SIZE if size is None else size
    chosen = [files[i] for i in np.sort(rng.choice(len(files), min(n_images, len(files)),
                                                   replace=False))]
    return np.stack([resize_square(read_image(path), size) for path in chosen])


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape == (size, size):
        return image
    from xrayssl.data.pixels import geometry

    return geometry(image, size)


def draw_views(
    images: np.ndarray, policy: Policy, draws: int, seed: int
) -> torch.Tensor:
    """(n, draws, H, W) float in [0, 1]: ``draws`` independent draws of the policy per image."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255).unsqueeze(1)
    n, _, height, width = x.shape
    repeated = x.repeat_interleave(draws, dim=0)  # (n*draws, 1, H, W): one row per draw
    with torch.no_grad():
        out: torch.Tensor = policy(repeated, torch.Generator().manual_seed(seed))
    return out.view(n, draws, height, width)


def view_policies(policy: Policy | TwoViews) -> list[tuple[str | None, Policy]]:
    """(row label, policy) per view: one row for a single policy, two for ``"A | B"``."""
    if isinstance(policy, TwoViews):
        if policy.policy_b is None:
            return [(None, policy.policy_a)]
        return [("view 1", policy.policy_a), ("view 2", policy.policy_b)]
    return [(None, policy)]


def save_preview(
    images: np.ndarray, policy: Policy | TwoViews, out: Path, *, draws: int = 6, seed: int = 0,
    labels: Sequence[str] | None = None, title: str | None = None, cell_inches: float = 1.3,
) -> Path:
    """Write a PNG grid: one row per image (two for an ``"A | B"`` policy, one per view), the
    original first, then ``draws`` draws."""
    if draws < 1:
        raise XraySSLError("--draws must be at least 1")
    views = view_policies(policy)
    # Each view's draws from its own seed, as pretraining draws the two views independently.
    drawn = [draw_views(images, view, draws, seed + k).numpy() for k, (_, view) in
             enumerate(views)]  # each (n, draws, H, W)
    n = images.shape[0]
    columns = draws + 1
    n_rows = n * len(views)
    fig, axes = plt.subplots(n_rows, columns,
                             figsize=(cell_inches * columns, cell_inches * n_rows + 0.5),
                             squeeze=False)
    for image in range(n):
        for k, (view_label, _) in enumerate(views):
            row = image * len(views) + k
            for col in range(columns):
                ax = axes[row][col]
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title("original" if col == 0 else f"draw {col}", fontsize=8)
                if col == 0 and k > 0:
                    ax.axis("off")  # the original is shown once, in the image's first row
                    continue
                panel = images[image] / 255.0 if col == 0 else drawn[k][image, col - 1]
                ax.imshow(panel, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            names = [labels[image] if labels is not None and k == 0 else None, view_label]
            row_label = "\n".join(name for name in names if name)
            if row_label:
                axes[row][0 if k == 0 else 1].set_ylabel(row_label, fontsize=7)
    spec = policy.spec
    fig.suptitle(title if title is not None else spec, fontsize=9)
    fig.tight_layout(pad=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    # Everything drawn is grey: an 8-bit grey PNG is about a third of matplotlib's RGBA one.
    with Image.open(tmp) as rendered:
        rendered.convert("L").save(tmp, optimize=True)
    tmp.replace(out)  # a half-written grid is never left under the final name
    return out
