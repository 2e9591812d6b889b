"""The pretraining run's loggers: the CSV log always, plus one tracker chosen by ``--logger``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import LOG_DIR

LOGGER_EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "csv": ("", ()),
    "tensorboard": ("tensorboard", ("tensorboard", "tensorboardX")),
    "mlflow": ("mlflow", ("mlflow",)),
    "wandb": ("wandb", ("wandb",)),
}


def require_logger(kind: str) -> None:
    """A clear error, naming the extra to install, when ``--logger kind`` cannot run."""
    if kind not in LOGGER_EXTRAS:
        raise XraySSLError(f"--logger {kind!r}: choose one of {', '.join(LOGGER_EXTRAS)}")
    extra, modules = LOGGER_EXTRAS[kind]
    if modules and not any(importlib.util.find_spec(m) for m in modules):
        raise XraySSLError(
            f"--logger {kind} needs the {modules[0]} package: pip install 'xrayssl[{extra}]'"
        )


def loggers_for(out_dir: Path, kind: str = "csv") -> list[Logger]:
    """The CSV log always; ``kind`` adds one tracker, writing inside the run folder only.

    Nothing is sent anywhere: TensorBoard event files, an MLflow file store and W&B's offline
    mode all stay under ``out_dir`` (``wandb sync`` uploads a W&B run later, if one wants).
    """
    require_logger(kind)
    # One numbered version per session (start, resume...): a resumed run never overwrites the
    # log of the session before it.
    csv_logger = CSVLogger(save_dir=out_dir, name=LOG_DIR)
    loggers: list[Logger] = [csv_logger]
    version = f"version_{csv_logger.version}"
    if kind == "tensorboard":
        loggers.append(TensorBoardLogger(save_dir=out_dir, name=LOG_DIR,
                                         version=csv_logger.version))
    elif kind == "mlflow":
        from pytorch_lightning.loggers import MLFlowLogger

        store = (out_dir / "mlruns").resolve()
        loggers.append(MLFlowLogger(experiment_name="xrayssl", run_name=version,
                                    tracking_uri=store.as_uri()))
    elif kind == "wandb":
        from pytorch_lightning.loggers import WandbLogger

        loggers.append(WandbLogger(save_dir=str(out_dir), offline=True, project="xrayssl",
                                   name=f"{out_dir.name}-{version}"))
    return loggers
