"""The model cache never serves a stale, truncated, wrong-shaped or unreadable file, and a folder that
cannot be written only costs a warning: each case is reported with one warning and the model is
rebuilt, identical to a fresh one."""
import warnings

import pytest
import torch

from htd_tutorial import cache
from htd_tutorial.cache import CACHE_VERSION, config_key, get_teacher, save_checkpoint
from htd_tutorial.data import make_synthetic
from htd_tutorial.experiments import RunConfig, run_method

KWARGS = dict(dim=8, epochs=2, batch_size=256, progress=False, verbose=False)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(n_users=60, n_items=80, interactions_per_user=12, seed=3)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """A teacher trained without any cache file present: what every rebuilt teacher must equal."""
    teacher, _ = get_teacher(data, directory=tmp_path_factory.mktemp("reference"), **KWARGS)
    return teacher


def _only_file(folder):
    (path,) = folder.glob("teacher-*.pt")
    return path


def _one_warning(record, text):
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and text in messages[0], messages


def _same_model(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.all_embeddings(), b.all_embeddings()))


def test_the_code_version_is_in_every_key(data, monkeypatch):
    config = {"role": "teacher", "dim": 8}
    key = config_key(data, config)
    monkeypatch.setattr(cache, "CACHE_VERSION", CACHE_VERSION + 1)
    assert config_key(data, config) != key, "a new code version must not reuse old cache files"


def test_the_data_split_is_in_every_key(data):
    other = make_synthetic(n_users=60, n_items=80, interactions_per_user=12, seed=4)
    assert config_key(data, {"dim": 8}) != config_key(other, {"dim": 8})


def _stale(path, state, meta):
    """The same file as an older version of the code would have written it."""
    blob = torch.load(path, weights_only=True)
    blob["code"] = CACHE_VERSION - 1
    torch.save(blob, path)


def _truncated(path, state, meta):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _wrong_shapes(path, state, meta):
    """A readable file with a right checksum, but tables of another size."""
    save_checkpoint(path, {name: torch.zeros(t.shape[0] + 1, *t.shape[1:]) for name, t in state.items()}, meta)


def _missing_history(path, state, meta):
    save_checkpoint(path, state, {"config": meta["config"]})


def _unreadable(path, state, meta):
    path.write_bytes(b"\x00not a checkpoint at all")


@pytest.mark.parametrize("damage, reason", [(_stale, "stale"), (_truncated, "cannot be read"),
                                            (_wrong_shapes, "size mismatch"), (_missing_history, "history"),
                                            (_unreadable, "cannot be read")])
def test_untrustworthy_teacher_file_is_rebuilt(data, reference, tmp_path, damage, reason):
    get_teacher(data, directory=tmp_path, **KWARGS)
    path = _only_file(tmp_path)
    state, meta = cache.load_checkpoint(path)
    damage(path, state, meta)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rebuilt, _ = get_teacher(data, directory=tmp_path, **KWARGS)
    _one_warning(record, "ignoring the cached teacher")
    assert reason in str(record[0].message)
    assert _same_model(rebuilt, reference), "the rebuilt teacher differs from a fresh one"
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # the rewritten file is trusted again
        again, _ = get_teacher(data, directory=tmp_path, **KWARGS)
    assert _same_model(again, reference)
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "a temporary file was left behind"


def test_unwritable_cache_folder_warns_and_keeps_the_model(data, reference, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")   # fails for root too, unlike chmod
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        teacher, history = get_teacher(data, directory=blocker / "cache", **KWARGS)
    _one_warning(record, "could not cache the teacher")
    assert _same_model(teacher, reference) and len(history.losses) == KWARGS["epochs"]
    assert blocker.read_text().startswith("a file"), "the blocking file was touched"


def test_untrustworthy_run_file_is_rebuilt(data, reference, tmp_path):
    config = RunConfig(method="htd", dim=4, epochs=1, batch_size=256, K=3)
    fresh = run_method(data, reference, config, directory=tmp_path, progress=False)
    (path,) = tmp_path.glob("run-*.pt")
    state, meta = cache.load_checkpoint(path)
    _wrong_shapes(path, state, meta)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rebuilt = run_method(data, reference, config, directory=tmp_path, progress=False)
    _one_warning(record, "ignoring the cached run")
    assert not rebuilt.from_cache and _same_model(rebuilt.student, fresh.student)
