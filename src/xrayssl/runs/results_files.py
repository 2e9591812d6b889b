"""``runs/<study>/results/``: the study's derived tables, as CSV and one Markdown page.

They are outputs for people and spreadsheets; nothing reads them back (the report renders the
study's results directly), and they are always rebuilt from the run folders.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrayssl.atomic import atomic_write_text
from xrayssl.runs.folder import StudyFolder

Rows = list[dict[str, Any]]


def csv_text(rows: Rows) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass
class ResultsFiles:
    runs: Rows  # every run (one per seed) by method, policy, seed: values, Δ to the base
    ranking: Rows  # every policy of each method over its seeds on val, best first
    by_body_part: Rows  # the objective per body part for every run
    op_effects: Rows  # mean change of the objective when an op is added
    pairwise: Rows  # the view-1 op x view-2 op grid
    label_efficiency: Rows  # the objective at every label fraction
    markdown: str  # results.md: the answer, the ranking, then the rest
    rungs: Rows = field(default_factory=list)  # halving: policy x rung val values, promoted
    answer: Rows = field(default_factory=list)  # per method and body part: selected on val
    latex: str = ""  # answer.tex: the answer over all images as a LaTeX (booktabs) table

    def write(self, study_dir: Path) -> Path:
        out = StudyFolder(Path(study_dir)).results
        for name in ("answer", "ranking", "runs", "by_body_part", "op_effects", "pairwise",
                     "label_efficiency"):
            atomic_write_text(out / f"{name}.csv", csv_text(getattr(self, name)))
        # Older versions ranked single runs there (a lucky seed first); it would outlive the
        # rebuild and contradict ranking.csv.
        (out / "ranked.csv").unlink(missing_ok=True)
        if self.rungs:  # only a halving study has rungs
            atomic_write_text(out / "rungs.csv", csv_text(self.rungs))
        atomic_write_text(out / "results.md", self.markdown)
        if self.latex:
            atomic_write_text(out / "answer.tex", self.latex)
        return out
