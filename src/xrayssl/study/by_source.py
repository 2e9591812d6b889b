"""One study config over several datasets -> one study per dataset (unless pooled).

A config with ``data.sources`` naming several datasets prepares them into one cache; what is
learnt on MURA's upper limbs and on AI Hub's chest films is then compared within each dataset,
never in one pooled encoder, probe and headline number. Each dataset's study has its own
folder ``runs/<name>-<source>`` and trains and probes on that dataset's body parts only (its
results per body part as for any study). ``data.pooled: true`` keeps the one pooled study.
"""

from __future__ import annotations

from xrayssl.config.study import StudyConfig
from xrayssl.data.cache import PreparedCache


def studies_by_source(config: StudyConfig, cache: PreparedCache) -> list[StudyConfig]:
    """The studies ``config`` stands for on ``cache``: itself, or one per source."""
    if config.data.pooled or config.data.sources is None:
        return [config]
    parts: dict[str, set[str]] = {}
    for record in cache.records:
        parts.setdefault(record.source or "unknown", set()).add(record.body_part)
    if len(parts) < 2:
        return [config]
    studies = []
    for source, body_parts in sorted(parts.items()):
        settings = config.model_dump()
        settings["name"] = f"{config.name}-{source}"
        settings["data"]["body_parts"] = sorted(body_parts)
        studies.append(StudyConfig.model_validate(settings))
    return studies
