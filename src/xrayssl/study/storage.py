"""Where a study's trials live: an Optuna RDB storage (a SQLite file or a PostgreSQL URL).

Opening the storage, opening the study in it (refusing one started with other settings), the
file lock that local workers share, and the ``study.yaml`` written beside the trials.

A server URL may hold a password (``postgresql://user:secret@host/db``). It is never shown:
every message that names the storage goes through ``redact_url`` / ``scrub``. Better still,
leave the password out of the URL: libpq, under psycopg2, reads it from ``PGPASSWORD`` or
from ``~/.pgpass`` (``PGPASSFILE``) when the URL has none.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import optuna
import yaml
from optuna.storages import RDBStorage

from xrayssl.atomic import atomic_write_text
from xrayssl.config.study import StudyConfig, changed_fields
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import StudyFolder
from xrayssl.yaml_file import read_yaml_mapping

STUDY_DB = "study.db"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock shared by every local worker of a study (claims, data made only once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def default_storage_url(config: StudyConfig) -> str:
    return f"sqlite:///{(config.study_dir / STUDY_DB).resolve()}"


HIDDEN = "***"
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def _passwords(url: str) -> list[str]:
    """The password(s) a URL carries: in its user info and/or as a ``password=`` query."""
    _scheme, sep, rest = url.partition("://")
    found = [match.group(2) for match in _QUERY_PASSWORD.finditer(url)]
    if sep:
        userinfo, at, _host = rest.rpartition("@")
        if at and ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    return [p for p in found if p]


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    scheme, sep, rest = url.partition("://")
    if sep:
        userinfo, at, host = rest.rpartition("@")
        if at and ":" in userinfo:
            rest = f"{userinfo.split(':', 1)[0]}:{HIDDEN}@{host}"
        url = f"{scheme}{sep}{rest}"
    return _QUERY_PASSWORD.sub(lambda m: f"{m.group(1)}{HIDDEN}", url)


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error, say) with the URL and its password hidden."""
    text = text.replace(url, redact_url(url))
    for password in _passwords(url):
        for form in {password, unquote(password)}:
            text = text.replace(form, HIDDEN)
    return text


def storage_error(err: BaseException, url: str) -> str:
    """What went wrong with a storage, in the driver's own words: Optuna wraps a refused
    connection in "An exception is raised during the commit ...", which hides the cause. The
    innermost cause's message is the one a person can act on; the URL's password is hidden."""
    cause: BaseException = err
    seen = {id(cause)}
    while True:
        inner = cause.__cause__ or cause.__context__
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        cause = inner
    text = " ".join(str(cause).split()) or type(cause).__name__
    return scrub(text, url)


def with_available_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; the project's extra installs
    psycopg2. Pick psycopg2 when psycopg 3 is absent, so plain URLs work either way.
    """
    scheme, sep, rest = url.partition("://")
    psycopg2_only = (
        importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    )
    if sep and scheme in ("postgresql", "postgres") and psycopg2_only:
        return f"postgresql+psycopg2://{rest}"
    return url


def open_storage(url: str, config: StudyConfig) -> RDBStorage:
    url = with_available_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several local workers write the same file: wait for the lock instead of failing.
        engine_kwargs["connect_args"] = {"timeout": 120}
    else:
        engine_kwargs["pool_pre_ping"] = True
    # Workers starting together on a new database race to create its tables; the loser
    # fails on "table exists" and succeeds on the next try, which finds them made.
    attempts = 5
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=config.runner.heartbeat_interval,
                    grace_period=config.runner.grace_period,
                )
        except Exception as err:  # the driver's own errors are many and unrelated
            if attempt == attempts - 1:
                raise XraySSLError(
                    f"cannot open study storage {redact_url(url)}: {storage_error(err, url)}"
                ) from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def claim_lock_path(storage_url: str) -> Path | None:
    """The lock file that serialises claims on a SQLite study; None for a server database.

    On PostgreSQL/MySQL the storage reads the trial row FOR UPDATE, so only one worker can
    move it out of WAITING. SQLite ignores FOR UPDATE: two processes can both read WAITING
    and both "win". SQLite studies are local files, so an exclusive lock on a file beside
    the database serialises the claims of every worker that shares it.
    """
    if not storage_url.startswith("sqlite"):
        return None
    database = storage_url.split(":///", 1)[-1]
    return Path(f"{database}.claim.lock")


def open_study(
    config: StudyConfig, storage: RDBStorage, storage_url: str, sampler: optuna.samplers.BaseSampler
) -> optuna.study.Study:
    """The study named in ``config``, created on first use; refuses one of other settings."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=config.runner.prune_startup_trials,
            n_warmup_steps=config.runner.prune_warmup_epochs,
        )
        if config.runner.prune
        else optuna.pruners.NopPruner()
    )
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=config.name,
            direction="maximize",
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
    except Exception as err:
        raise XraySSLError(
            f"cannot open study {config.name!r} in {redact_url(storage_url)}: "
            f"{storage_error(err, storage_url)}"
        ) from None
    fingerprint = config.fingerprint()
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", fingerprint)
        study.set_user_attr("settings", config.settled())  # to name what changes later
        study.set_user_attr("kind", config.space.kind)
    elif stored != fingerprint:
        changes = stored_changes(study.user_attrs.get("settings"), config)
        raise XraySSLError(
            f"study {config.name!r} in {redact_url(storage_url)} was started with different "
            "data/pretrain/probe/objective settings"
            + (f" ({'; '.join(changes[:5])}{'; ...' if len(changes) > 5 else ''})"
               if changes else "")
            + ", so its trials are not comparable with this config. Give the study a new "
            "name, or restore the settings it was started with (see "
            f"{StudyFolder(config.study_dir).config})."
        )
    return study


def stored_changes(stored: Any, config: StudyConfig) -> list[str]:
    """What differs from the settings the study started with, field by field: from the
    storage (studies started by this version) or else from its study.yaml."""
    if not isinstance(stored, dict):
        path = StudyFolder(config.study_dir).config
        try:
            stored = StudyConfig.model_validate(read_yaml_mapping(path)).settled()
        except (XraySSLError, ValueError):
            return []
    return changed_fields(stored, config.settled())


def write_study_file(config: StudyConfig) -> None:
    """``study.yaml``: the settings the study runs with, rewritten only when they change."""
    path = StudyFolder(config.study_dir).config
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
