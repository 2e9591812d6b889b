"""A storage URL's password is never shown: not in errors, progress, or any file written."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from study.conftest import MakeConfig
from study.fake_trial import make_fake_trial
from xrayssl.errors import XraySSLError
from xrayssl.study.runner import StudyRunner
from xrayssl.study.storage import redact_url, scrub

SECRET = "Sup3r:S3cret"  # a colon inside, as real passwords have
QUOTED = "Sup3r%3AS3cret"


@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql://alice:{QUOTED}@db.lab:5432/studies",
     "postgresql://alice:***@db.lab:5432/studies"),
    ("postgresql+psycopg2://alice:pw@db.lab/studies?sslmode=require",
     "postgresql+psycopg2://alice:***@db.lab/studies?sslmode=require"),
    ("postgresql://db.lab/studies?user=alice&password=pw&sslmode=require",
     "postgresql://db.lab/studies?user=alice&password=***&sslmode=require"),
    ("postgresql://alice@db.lab/studies", "postgresql://alice@db.lab/studies"),
    ("sqlite:////tmp/runs/study/study.db", "sqlite:////tmp/runs/study/study.db"),
])
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_hides_the_password_in_any_form() -> None:
    url = f"postgresql://alice:{QUOTED}@db.lab/studies"
    text = f"could not parse {url}; password {SECRET!r}; quoted {QUOTED}"
    cleaned = scrub(text, url)
    assert SECRET not in cleaned and QUOTED not in cleaned and "S3cret" not in cleaned
    assert "postgresql://alice:***@db.lab/studies" in cleaned


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_unreachable_server_error_names_the_url_without_its_password(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config()
    url = f"postgresql://alice:{QUOTED}@127.0.0.1:9/studies"  # port 9: refused at once
    stream = io.StringIO()
    with pytest.raises(XraySSLError) as err:
        StudyRunner(config, make_fake_trial(tmp_path / "log"), storage_url=url, progress=stream)
    message = str(err.value)
    assert "cannot open study storage postgresql" in message
    assert "alice:***@127.0.0.1:9/studies" in message
    assert "Connection refused" in message  # the driver's cause, not Optuna's wrapper
    assert "exception is raised during the commit" not in message
    for form in (QUOTED, SECRET, "S3cret"):
        assert form not in message and form not in stream.getvalue()
    assert files_containing(config.study_dir, "S3cret") == []


def test_study_plan_on_a_dead_server_says_the_connection_was_refused(
    make_config: MakeConfig,
) -> None:
    from xrayssl.study.plan import stored_trials

    url = f"postgresql://alice:{QUOTED}@127.0.0.1:9/studies"
    with pytest.raises(XraySSLError, match=r"cannot read study storage .*Connection refused") \
            as err:
        stored_trials(make_config(), url, [])
    assert "S3cret" not in str(err.value)


def test_a_study_on_a_password_url_never_writes_or_prints_the_password(
    make_config: MakeConfig, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    server = os.environ.get("XRAYSSL_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("XRAYSSL_TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    scheme, rest = server.split("://", 1)
    userinfo, host = rest.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    if ":" in userinfo:
        pytest.skip("the test server's URL already holds a password")
    # A trust-auth server ignores the password; PGPASSWORD-auth needs this one to be right.
    password = os.environ.get("PGPASSWORD", "never-shown-7f3a")
    url = f"{scheme}://{user}:{password}@{host}"
    config = make_config(name=f"secret-{os.getpid()}", methods=["simclr"])
    stream = io.StringIO()
    summary = StudyRunner(
        config, make_fake_trial(tmp_path / "log"), storage_url=url, progress=stream
    ).run()
    assert summary.complete == 3 and summary.remaining == 0
    printed = stream.getvalue() + "".join(capfd.readouterr())
    assert password not in printed
    assert files_containing(config.study_dir, password) == []
