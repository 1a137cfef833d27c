"""The OpenMP thread policy has one owner, ``htd_tutorial._threads``, and the user's setting wins.

No timing here: ``benchmarks/bench_threads.py`` measures the policy.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest
import torch

from htd_tutorial._threads import THREAD_ENV, WAIT_VARS, CpuContention, apply_thread_policy
from tests.conftest import REPO_ROOT

TORCH_IMPORT = re.compile(r"^\s*(import torch\b|from torch\b)", re.M)
PACKAGE_IMPORT = re.compile(r"^\s*(import htd_tutorial\b|from htd_tutorial\b)", re.M)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in WAIT_VARS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def test_policy_fills_an_empty_environment():
    environ: dict[str, str] = {"PATH": "/bin"}
    assert apply_thread_policy(environ) == THREAD_ENV
    assert environ == {"PATH": "/bin", **THREAD_ENV}
    assert apply_thread_policy(environ) == {}  # a second call changes nothing
    assert environ == {"PATH": "/bin", **THREAD_ENV}


@pytest.mark.parametrize("name, value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "5"),
                                         ("KMP_BLOCKTIME", "0"), ("OMP_WAIT_POLICY", "")])
def test_a_users_own_setting_wins_and_is_not_mixed_with_ours(name, value):
    environ = {name: value}
    assert apply_thread_policy(environ) == {}
    assert environ == {name: value}


def test_policy_values_are_strings_for_known_variables():
    assert THREAD_ENV and set(THREAD_ENV) <= set(WAIT_VARS)
    assert all(isinstance(value, str) and value for value in THREAD_ENV.values())


def test_importing_the_package_applies_the_owners_values_and_libgomp_uses_them():
    """In a fresh process: importing htd_tutorial sets THREAD_ENV, and torch's OpenMP runtime reads it
    (libgomp prints what it uses with OMP_DISPLAY_ENV; other runtimes only get the environment checked)."""
    code = ("import json, os, htd_tutorial, torch; torch.ones(1).sum(); "
            f"print(json.dumps({{k: os.environ.get(k) for k in {list(WAIT_VARS)!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], env=_clean_env(OMP_DISPLAY_ENV="VERBOSE"),
                          capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {name: THREAD_ENV.get(name) for name in WAIT_VARS}
    used = dict(re.findall(r"^\s*(OMP_WAIT_POLICY|GOMP_SPINCOUNT) = '([^']*)'", done.stderr, re.M))
    if not used:
        pytest.skip("torch's OpenMP runtime does not report its settings (not libgomp)")
    for name, value in THREAD_ENV.items():
        if name in used:
            assert used[name] == value


def test_a_users_setting_reaches_the_runtime_unchanged():
    code = "import os, htd_tutorial; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    done = subprocess.run([sys.executable, "-c", code], env=_clean_env(OMP_WAIT_POLICY="ACTIVE"),
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["ACTIVE", "None"]


def test_nothing_but_the_owner_sets_the_policy():
    """No second copy of the policy: the Makefile, the tests and the benchmarks leave it to htd_tutorial."""
    setters = re.compile(r"(environ(\.setdefault\(|\[)\s*[\"'](OMP_WAIT_POLICY|GOMP_SPINCOUNT|KMP_BLOCKTIME)"
                         r"|^\s*(export\s+)?(OMP_WAIT_POLICY|GOMP_SPINCOUNT|KMP_BLOCKTIME)\s*[?:]?=)", re.M)
    files = [REPO_ROOT / "Makefile", *REPO_ROOT.glob("htd_tutorial/**/*.py"), *REPO_ROOT.glob("tests/**/*.py"),
             *REPO_ROOT.glob("benchmarks/*.py")]
    offenders = [str(path.relative_to(REPO_ROOT)) for path in files
                 if path.name != "_threads.py" and setters.search(path.read_text())]
    assert offenders == []


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_import_the_package_before_torch(path):
    """The kernels (JupyterLab's, nbval's) get the policy from the notebook's own import of htd_tutorial,
    which must come before torch's: the runtime reads its settings once, when torch loads."""
    source = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    package, torch = PACKAGE_IMPORT.search(source), TORCH_IMPORT.search(source)
    assert package is not None, "the notebook never imports htd_tutorial"
    assert torch is None or package.start() < torch.start()


# ----------------------------------------------------------------------------------------------
# Adaptive training threads (off in the shipped policy; benchmarks/bench_threads.py measures it)
# ----------------------------------------------------------------------------------------------

def _contention(monkeypatch, busy_ticks_per_read: int | None) -> CpuContention:
    """A CpuContention whose /proc figures grow by ``busy_ticks_per_read`` machine ticks per reading
    (None: no /proc), while this process uses no CPU."""
    state = {"ticks": 0}

    def read():
        if busy_ticks_per_read is None:
            return None
        state["ticks"] += busy_ticks_per_read
        return time.perf_counter(), state["ticks"], 0.0

    monkeypatch.setattr(CpuContention, "_read", staticmethod(read))
    return CpuContention(window=0.01)


def test_contention_keeps_the_threads_of_an_idle_machine(monkeypatch):
    monitor = _contention(monkeypatch, 0)
    assert monitor.threads(2) == 2 and monitor.others == 0.0


def test_contention_drops_to_one_thread_on_a_busy_machine(monkeypatch):
    monitor = _contention(monkeypatch, 10**6)
    assert monitor.busy() and monitor.threads(2) == 1
    assert monitor.threads(1) == 1


def test_contention_without_proc_keeps_the_base(monkeypatch):
    monitor = _contention(monkeypatch, None)
    assert monitor.threads(2) == 2 and monitor.others is None


@pytest.mark.parametrize("adaptive, expected", [(True, {1}), (False, {2})])
def test_adaptive_training_follows_the_monitor_and_restores_threads(monkeypatch, adaptive, expected):
    from htd_tutorial import _threads, training
    from htd_tutorial.data import make_synthetic
    from htd_tutorial.models import make_model

    seen = set()

    class Recorder(torch.nn.Module):
        def forward(self, s_users, s_items, users, items, epoch, epochs):
            seen.add(torch.get_num_threads())
            return {"loss": s_users.sum() * 0}

    data = make_synthetic(n_users=40, n_items=60, seed=0)
    monkeypatch.setattr(training, "SMALL_DATA_CELLS", 0)      # as if the data were large: torch's threads
    monkeypatch.setattr(_threads, "ADAPTIVE_THREADS", adaptive)
    monkeypatch.setattr(_threads, "adaptive_threads", lambda base: 1)  # a machine that is always busy
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        training.train(make_model("bpr", data, 4, seed=0), data, epochs=1, progress=False, distiller=Recorder(),
                       eval_every=0)
        assert seen == expected and torch.get_num_threads() == 2
        seen.clear()   # an explicit thread count is never adapted
        training.train(make_model("bpr", data, 4, seed=0), data, epochs=1, progress=False, distiller=Recorder(),
                       eval_every=0, threads=2)
        assert seen == {2}
    finally:
        torch.set_num_threads(previous)


def test_evaluation_runs_on_one_thread_while_the_machine_is_busy(monkeypatch):
    """The busy-machine cliff of evaluation outside train() (issue: 1.3x PASSIVE): evaluate_embeddings
    asks the same contention check as training, and restores torch's count afterwards."""
    import torch

    from htd_tutorial import _threads, evaluation
    from htd_tutorial.data import Interactions

    class Busy:
        def threads(self, base):
            return 1

    data = Interactions("tiny", n_users=2, n_items=4, train=[[0, 0], [1, 1]], valid=[[0, 2], [1, 3]],
                        test=[[0, 3], [1, 2]])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(_threads, "_CONTENTION", Busy())
        with _threads.busy_aware_threads() as count:
            assert count == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        evaluation.evaluate_embeddings(torch.eye(2, 3), torch.ones(4, 3), data, ks=(1,))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
