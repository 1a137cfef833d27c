"""The background run's report (tests/end_to_end/installed_run.py): what the installed-package tests read.

Seconds, no wheel: each step's exit code and output reach the report, a failed or timed-out step stops the
run, and the report is whole on disk after every step.
"""
from __future__ import annotations

import json
import sys

import pytest

from tests.end_to_end import installed_run as run


def test_each_step_is_written_and_a_failure_stops_the_run(tmp_path):
    report = run._Report(tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text()) == {"steps": [], "finished": False}
    assert report.run([sys.executable, "-c", "print('built')"], label="ok", timeout=60) == "built\n"
    with pytest.raises(SystemExit):
        report.run([sys.executable, "-c", "import sys; print('half'); sys.exit(3)"], label="broken", timeout=60)
    written = json.loads((tmp_path / "report.json").read_text())
    assert [(s["label"], s["returncode"]) for s in written["steps"]] == [("ok", 0), ("broken", 3)]
    assert written["steps"][1]["stdout"] == "half\n" and written["finished"] is False
    assert not list(tmp_path.glob("*.tmp"))


def test_a_step_past_its_time_is_a_failure_with_no_exit_code(tmp_path):
    report = run._Report(tmp_path / "report.json")
    with pytest.raises(SystemExit):
        report.run([sys.executable, "-c", "import time; time.sleep(30)"], label="hang", timeout=1)
    step = json.loads((tmp_path / "report.json").read_text())["steps"][0]
    assert step["returncode"] is None and "no result after 1 s" in step["stderr"]


def test_the_output_kept_is_the_end(tmp_path):
    report = run._Report(tmp_path / "report.json")
    code = f"print('a' * {run.TAIL_CHARS} + 'END')"
    report.run([sys.executable, "-c", code], label="long", timeout=60)
    kept = json.loads((tmp_path / "report.json").read_text())["steps"][0]["stdout"]
    assert len(kept) == run.TAIL_CHARS and kept.endswith("END\n")


def test_a_learners_environment_has_no_settings_of_ours(monkeypatch):
    monkeypatch.setenv("HTD_EPOCHS", "3")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = run.clean_env(HTD_STRICT_CLAIMS="1")
    assert env["HTD_STRICT_CLAIMS"] == "1" and "HTD_EPOCHS" not in env
    assert "PYTHONPATH" not in env and "MPLBACKEND" not in env and env["PATH"]
