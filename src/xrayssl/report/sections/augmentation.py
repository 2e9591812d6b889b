"""Augmentation policies: each policy of the study drawn four times on one prepared image."""

from __future__ import annotations

import numpy as np

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.findings.model import StudyResults
from xrayssl.report.figures import array_uri, tile
from xrayssl.report.page import Picture, Section
from xrayssl.report.sections.dataset import sample_indices

MAX_PREVIEWS = 40


def policy_specs(results: StudyResults) -> list[str]:
    specs = set()
    for trial in results.trials:
        specs.add(trial.view1)
        if trial.view2 is not None:
            specs.add(trial.view2)
    return sorted(specs, key=lambda s: (len(s), s))


def augmentation_section(results: StudyResults, cache: PreparedCache | None) -> Section:
    section = Section("augment", "Augmentation policies",
                      "For each policy: the prepared image, then four random draws (seed 0).")
    specs = policy_specs(results)
    if not specs:
        section.notes.append("no trial policies found")
        return section
    if cache is None:
        section.notes.append("no cache to draw a preview image from")
        return section
    import torch

    from xrayssl.augment.spec import parse_policy

    if len(specs) > MAX_PREVIEWS:
        section.notes.append(f"{len(specs)} policies; the first {MAX_PREVIEWS} are shown")
    index = sample_indices(cache, 1)[0]
    image = torch.from_numpy(np.array(cache.images[index])).float().div(255)
    batch = image[None, None].repeat(4, 1, 1, 1)  # (4, 1, S, S)
    for spec in specs[:MAX_PREVIEWS]:
        try:
            policy = parse_policy(spec)
            views = policy(batch, generator=torch.Generator().manual_seed(0))
        except (XraySSLError, ValueError, RuntimeError) as err:
            section.notes.append(f"policy {spec!r} could not be previewed: {err}")
            continue
        draws = [(v[0].clamp(0, 1) * 255).round().byte().numpy() for v in views]
        strip = tile([np.asarray(cache.images[index]), *draws])
        section.pictures.append(Picture(array_uri(strip), spec or "identity",
                                        width=strip.shape[1] * max(1, 96 // cache.size)))
    return section
