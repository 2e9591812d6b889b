"""The run folder: one typed, versioned schema per file; the only code that reads or writes them.

A run is a folder. A study's trials are ``runs/<study>/<trial>/``, its baselines
``runs/<study>/baselines/<kind>/``; ``xrayssl probe --out`` writes a lone ``metrics.json``::

    config.yaml     TrialConfig   the grid point and the exact settings (runs.trial_config)
    metrics.json    RunMetrics    scores per label fraction and held-out split (runs.metrics_file)
    encoder.pt, probe.json, pretrain.json, checkpoints/, log.csv, logs/

``runs.folder`` names every file (``RunFolder``, ``StudyFolder``, ``ExplainFolder``); no other
module spells one.

and the study's derived tables go to ``runs/<study>/results/`` (runs.results_files).

``RunMetrics`` (format ``xrayssl-run-v2``) is shaped so that the next features need no new
reader, only new values in the fields that are already there:

- ``run.kind`` says what made the numbers: ``trial`` (pretrained by a study), ``baseline``
  (``run.baseline`` names it: raw, random, imagenet, supervised) or ``probe`` (a single
  ``xrayssl probe`` of an encoder file). Baseline trials of a study are runs of kind
  ``baseline`` in their own folders; several seeds per policy are runs with different
  ``run.seed``.
- ``splits`` maps a held-out split's name to how it was made and its images (indices, labels,
  resampling clusters). Today every probe is scored on one split, ``test`` (the cache's
  ``valid`` images, or a patient-level split made at evaluation time). A val/test protocol adds
  a ``val`` entry beside it and scores both.
- ``fractions`` maps a label fraction (``f"{fraction:g}"``) to its probe fits (one per label
  subset/seed) and, per split name, the scores (``SplitScores``: overall and per body part, at
  image and study level, with CIs, plus the raw predictions for paired tests).
  ``RunMetrics.estimate(metric, fraction, level, split=...)`` reads one number.
- ``run.epochs`` records the pretraining epochs behind the numbers and ``run.rung`` the
  successive-halving rung (0 first; None without halving). Each rung of a policy is a trial
  of its own, in its own folder (``<method>_<policy>_s<seed>_e<epochs>_<hash>``), pretrained
  from scratch for that rung's epochs; ``config.yaml`` carries the same ``rung`` and
  ``epochs``.

To extend: add an optional field (with a default) to the model in ``metrics_file.py``; old
files still validate. A change that old files cannot satisfy bumps ``FORMAT`` and registers an
upgrade of the previous version in ``metrics_file.UPGRADES``, as ``legacy.py`` does for
``xrayssl-metrics-v1`` (imported below, so every reader of the package can read v1 files).
"""

from xrayssl.runs import legacy as legacy
