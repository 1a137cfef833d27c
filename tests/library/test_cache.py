"""The model cache never serves a stale, truncated, wrong-shaped or unreadable file, and a folder that
cannot be written only costs a warning: each case is reported with one warning and the model is
rebuilt, identical to a fresh one. And the key holds every setting: each parameter of get_teacher and
each field of RunConfig (walked, so a new one fails until it is given a second value), the teacher
of a run, and each of the three splits of the data."""
import dataclasses
import warnings

import numpy as np
import pytest
import torch

from htd_tutorial import cache
from htd_tutorial.cache import CACHE_VERSION, config_key, get_teacher, save_checkpoint
from htd_tutorial.data import Interactions, make_synthetic
from htd_tutorial.config import RunConfig, TeacherConfig
from htd_tutorial.experiments import run_method
from htd_tutorial.losses import HTDOptions
from htd_tutorial.models import make_model

KWARGS = dict(dim=8, epochs=2, batch_size=256, progress=False, verbose=False)


#: The synthetic dataset of the ``data`` fixture (tests/conftest.py).
SYNTHETIC = dict(n_users=60, n_items=80, interactions_per_user=12, seed=3)


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


# ----------------------------------------------------------------------------------------------
# Every setting is in the key: walked over the parameters and fields, so a new one is covered by default
# ----------------------------------------------------------------------------------------------

class _Untrained(Exception):
    """Raised by the stand-in for ``train``: the cache path was looked up and nothing is trained."""

    def __init__(self, path):
        super().__init__(path)
        self.path = path


@pytest.fixture
def no_training(monkeypatch):
    """Replace ``train`` where get_teacher and run_method call it: the key is computed, nothing trains."""
    from htd_tutorial import experiments

    def stub(*args, snapshots, **kwargs):
        final = snapshots.path.name.removesuffix(".partial.pt")   # the PartialRun beside the cache file
        raise _Untrained(final)

    monkeypatch.setattr(cache, "train", stub)
    monkeypatch.setattr(experiments, "train", stub)


def _key(call, *args, **kwargs) -> str:
    """The key part of the cache file name ``call`` looks up (name and size parts left out, so only the
    hash can tell two settings apart)."""
    with pytest.raises(_Untrained) as caught:
        call(*args, **kwargs)
    return caught.value.path.rsplit("-", 1)[1]


#: get_teacher's parameters besides the teacher's settings (the fields of TeacherConfig): not in its key.
TEACHER_NOT_IN_KEY = {"data", "config", "directory", "progress", "verbose", "threads", "settings"}
#: A second value for each field of TeacherConfig (the first is its default).
TEACHER_OTHER = {"kind": "lightgcn", "dim": 9, "epochs": 3, "seed": 1, "lr": 2e-3, "weight_decay": 0.0,
                 "batch_size": 128, "optimizer": "lazy_adam", "eval_every": 1, "depth": 2}
#: Settings a field's second value needs beside it (BPR has no depth: it is walked on a LightGCN).
NEEDS = {"depth": {"kind": "lightgcn"}}


def test_every_teacher_setting_changes_the_key(data, tmp_path, no_training):
    import inspect

    assert set(inspect.signature(get_teacher).parameters) == TEACHER_NOT_IN_KEY, \
        "a new parameter of get_teacher: is it a setting of the teacher (a field of TeacherConfig)?"
    assert {field.name for field in dataclasses.fields(TeacherConfig)} == set(TEACHER_OTHER), \
        "a new field of TeacherConfig: add a second value for it to TEACHER_OTHER"
    base = dict(directory=tmp_path, progress=False, verbose=False)
    key = _key(get_teacher, data, **base)
    for name, value in TEACHER_OTHER.items():
        needs = NEEDS.get(name, {})
        assert _key(get_teacher, data, **base, **needs, **{name: value}) != \
            _key(get_teacher, data, **base, **needs), f"{name} is not in the teacher's key"
        assert _key(get_teacher, data, TeacherConfig(**needs, **{name: value}), **base) == \
            _key(get_teacher, data, **base, **needs, **{name: value}), "a TeacherConfig and its fields by name differ"
    for name, value in {"threads": 1, "progress": True, "verbose": True, "directory": tmp_path / "b"}.items():
        assert _key(get_teacher, data, **{**base, name: value}) == key, f"{name} must not change the key"


#: A second value for each field of RunConfig (the first: BASE_RUN's, or the field's default).
RUN_OTHER = {"method": "de", "dim": 5, "epochs": 2, "kind": "lightgcn", "lam": 0.01, "K": 4, "gamma": 0.25,
             "group_topology": "PP", "mode": "clean", "seed": 1, "lr": 2e-3, "weight_decay": 0.0,
             "batch_size": 128, "optimizer": "lazy_adam", "eval_every": 1,
             "options": HTDOptions.preset("authors").replace(mask_pe=True), "depth": 2}
BASE_RUN = dict(method="htd", dim=4, epochs=1, batch_size=256, K=3)


def test_every_run_setting_changes_the_key(data, tmp_path, no_training):
    teacher = make_model("bpr", data, 8, seed=0)      # only its tables are read: an untrained one will do
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    assert fields == set(RUN_OTHER), "a new field of RunConfig: add a second value for it to RUN_OTHER"
    base = RunConfig(**BASE_RUN)
    key = _key(run_method, data, teacher, base, directory=tmp_path, progress=False)
    for name, value in RUN_OTHER.items():
        assert getattr(base, name) != value
        before = dataclasses.replace(base, **NEEDS.get(name, {}))
        other = dataclasses.replace(before, **{name: value})
        assert _key(run_method, data, teacher, other, directory=tmp_path, progress=False) != \
            _key(run_method, data, teacher, before, directory=tmp_path, progress=False), f"{name} is not in the run's key"
    for name, value in {"threads": 1, "progress": True, "desc": "x", "flush_denormal": False,
                        "directory": tmp_path / "b"}.items():
        kwargs = {"directory": tmp_path, "progress": False, name: value}
        assert _key(run_method, data, teacher, base, **kwargs) == key, f"{name} must not change the key"
    other_teacher = make_model("bpr", data, 8, seed=1)
    assert _key(run_method, data, other_teacher, base, directory=tmp_path, progress=False) != key, \
        "the teacher is not in the run's key"


def _with_splits(data, **splits):
    fields = dict(name=data.name, n_users=data.n_users, n_items=data.n_items, train=data.train, valid=data.valid,
                  test=data.test)
    return Interactions(**{**fields, **splits})


def test_every_split_changes_the_data_fingerprint(data):
    # the same training pairs with other held-out pairs must not share a cache file: a model is
    # trained on the training split only, but its stored history holds validation and test metrics
    fingerprint = data.fingerprint()
    swapped = _with_splits(data, valid=data.test, test=data.valid)
    assert swapped.fingerprint() != fingerprint, "validation and test swapped share a fingerprint"
    assert config_key(swapped, {"dim": 8}) != config_key(data, {"dim": 8})
    # only one held-out pair moved to another held-out item of the same user, in one split at a time
    train_keys = set(data.keys(data.train).tolist())
    for split in ("valid", "test"):
        pairs = getattr(data, split).copy()
        user = int(pairs[0, 0])
        taken = train_keys | set(data.keys(data.valid).tolist()) | set(data.keys(data.test).tolist())
        pairs[0, 1] = next(i for i in range(data.n_items) if user * data.n_items + i not in taken)
        moved = _with_splits(data, **{split: pairs})
        assert moved.fingerprint() != fingerprint, f"a changed {split} split keeps the fingerprint"
        assert _with_splits(data).fingerprint() == fingerprint


def test_the_fingerprint_of_a_fixed_split_never_changes():
    # every cached teacher and run is found by this hash: a change to how it is computed orphans them all
    toy = Interactions(name="toy", n_users=2, n_items=4, train=np.array([[0, 0], [0, 1], [1, 2]]),
                       valid=np.array([[0, 2], [1, 3]]), test=np.array([[0, 3], [1, 0]]))
    assert toy.fingerprint() == "cca56c9ed31c94e3346a407180e7465c338b4bb8ac82bfed28bac5ec5f3164f5"


def _toy() -> Interactions:
    return Interactions(name="toy", n_users=2, n_items=4, train=np.array([[0, 0], [0, 1], [1, 2]]),
                        valid=np.array([[0, 2], [1, 3]]), test=np.array([[0, 3], [1, 0]]))


def _fixed_teacher(data, dim=4):
    """A BPR teacher whose tables are written out (no random initialisation behind the digest)."""
    teacher = make_model("bpr", data, dim, seed=0)
    with torch.no_grad():
        teacher.user_emb.weight.copy_(torch.arange(data.n_users * dim, dtype=torch.float32).view(-1, dim) / 8)
        teacher.item_emb.weight.copy_(-torch.arange(data.n_items * dim, dtype=torch.float32).view(-1, dim) / 16)
    return teacher


def test_the_file_names_of_fixed_settings_never_change(tmp_path, monkeypatch, no_training):
    """Every cached teacher and run is found by its file name: how the key is made (the JSON's fields and
    their order, the options left out when None, the length of the hash in the name) must not change unless
    CACHE_VERSION is bumped. The versions are fixed here, so a bump does not touch this test."""
    monkeypatch.setattr(cache, "CACHE_VERSION", 3)
    monkeypatch.setattr(cache, "FORMAT_VERSION", 1)
    toy = _toy()
    # worked out with hashlib and json alone: SHA-256 of json.dumps({"code": 3, "config": {...}, "data": <the
    # fingerprint pinned above>, "format": 1}, sort_keys=True); the run's config holds every RunConfig field but
    # options (None) and the SHA-256 of the teacher's tables ("items" (4, 4) then "users" (2, 4), float32 bytes)
    assert config_key(toy, {"role": "teacher", "dim": 8}) == \
        "357eb1c076daa66f5f68931b987a92ffb5538df903991e7fa7e8d6e20f40a88d"
    with pytest.raises(_Untrained) as teacher_file:
        get_teacher(toy, dim=8, epochs=2, directory=tmp_path, progress=False, verbose=False)
    assert teacher_file.value.path == "teacher-bpr-d8-e2-48ee4ca9f69db520"  # + ".pt"
    with pytest.raises(_Untrained) as run_file:
        run_method(toy, _fixed_teacher(toy), RunConfig(method="htd", dim=2, epochs=1, K=2), directory=tmp_path,
                   progress=False)
    assert run_file.value.path == "run-bpr-htd-d2-ad579f70de51c7fc"  # + ".pt"


def test_options_equal_to_the_mode_give_the_run_without_options(data, tmp_path, no_training):
    teacher = make_model("bpr", data, 8, seed=0)
    key = _key(run_method, data, teacher, RunConfig(**BASE_RUN), directory=tmp_path, progress=False)
    same = RunConfig(**BASE_RUN, options=HTDOptions.preset("authors"))
    assert _key(run_method, data, teacher, same, directory=tmp_path, progress=False) == key


def test_each_table_of_the_teacher_changes_the_run_key(tmp_path, no_training):
    toy, config = _toy(), RunConfig(method="htd", dim=2, epochs=1, K=2)
    teacher = _fixed_teacher(toy)
    key = _key(run_method, toy, teacher, config, directory=tmp_path, progress=False)
    for table in ("user_emb", "item_emb"):
        other = _fixed_teacher(toy)
        with torch.no_grad():
            getattr(other, table).weight[0, 0] += 1.0
        assert _key(run_method, toy, other, config, directory=tmp_path, progress=False) != key, table


def test_the_tensor_digest_reads_names_shapes_and_bytes():
    table = torch.arange(12, dtype=torch.float32)
    digest = cache.tensor_digest({"users": table.view(3, 4)})
    assert cache.tensor_digest({"items": table.view(3, 4)}) != digest            # the name
    assert cache.tensor_digest({"users": table.view(4, 3)}) != digest            # the shape
    assert cache.tensor_digest({"users": (table + 1).view(3, 4)}) != digest      # the bytes
    # the checksum of every cached file, so a changed digest would reject them all: SHA-256 of b"users",
    # b"(3, 4)" and the 48 bytes of float32 0..11 (worked out with hashlib and numpy alone)
    assert digest == "8a060382e5e77fd88fd8ca41081845e053271c790e41c341fd88215984df843c"


#: The cache file names of a few settings, computed with the code of before the settings became typed
#: configurations (htd_tutorial.config): a refactoring of how settings travel must leave every one as it is,
#: or every cached teacher and run would be trained again. (teacher settings, run settings, file name)
PINNED_TEACHERS = [
    ({}, "teacher-bpr-d200-e100-c2e4fe2681f9271e"),
    (dict(kind="lightgcn", dim=16, epochs=5, seed=2, lr=5e-3, weight_decay=1e-4, batch_size=512,
          optimizer="lazy_adam", eval_every=10), "teacher-lightgcn-d16-e5-83313f9d50260bb8"),
]
PINNED_RUNS = [
    (dict(method="student", dim=2), "run-bpr-student-d2-950c4c6fd16a37e4"),
    (dict(method="fitnet", dim=3, epochs=4, seed=1), "run-bpr-fitnet-d3-e7c28c8532c0af50"),
    (dict(method="de", dim=2, K=2, mode="clean"), "run-bpr-de-d2-dc702ff268c9ea4a"),
    (dict(method="ftd", dim=2, lam=0.01, lr=5e-3), "run-bpr-ftd-d2-a8ca6d068f3a78a1"),
    (dict(method="htd", dim=2, epochs=1, K=2, gamma=0.25, group_topology="PP", batch_size=256, eval_every=1,
          kind="lightgcn"), "run-lightgcn-htd-d2-ef24553ed89767fe"),
    (dict(method="htd", dim=2, K=3, options=HTDOptions.preset("authors").replace(mask_pe=True)),
     "run-bpr-htd-d2-91391d0c031c50d0"),
]


@pytest.mark.parametrize("settings, expected", PINNED_TEACHERS)
def test_pinned_teacher_keys_never_change(tmp_path, monkeypatch, no_training, settings, expected):
    monkeypatch.setattr(cache, "CACHE_VERSION", 3)
    monkeypatch.setattr(cache, "FORMAT_VERSION", 1)
    with pytest.raises(_Untrained) as found:
        get_teacher(_toy(), TeacherConfig(**settings), directory=tmp_path, progress=False, verbose=False)
    assert found.value.path == expected


@pytest.mark.parametrize("settings, expected", PINNED_RUNS)
def test_pinned_run_keys_never_change(tmp_path, monkeypatch, no_training, settings, expected):
    monkeypatch.setattr(cache, "CACHE_VERSION", 3)
    monkeypatch.setattr(cache, "FORMAT_VERSION", 1)
    toy = _toy()
    with pytest.raises(_Untrained) as found:
        run_method(toy, _fixed_teacher(toy), RunConfig(**settings), directory=tmp_path, progress=False)
    assert found.value.path == expected


#: The paper commands' teachers, field by field: on CiteULike the BPR one trains for about half an hour, the
#: LightGCN one for over an hour and a half, and every CiteULike run of reproduce, ablation and the evidence
#: map is keyed by it.
PAPER_TEACHER_KEYS = {
    "bpr": {"role": "teacher", "kind": "bpr", "dim": 200, "epochs": 100, "seed": 0, "lr": 1e-3,
            "weight_decay": 1e-3, "batch_size": 1024, "optimizer": "adam", "eval_every": 10},
    "lightgcn": {"role": "teacher", "kind": "lightgcn", "dim": 200, "epochs": 100, "seed": 0, "lr": 5e-3,
                 "weight_decay": 1e-4, "batch_size": 1024, "optimizer": "adam", "eval_every": 10},
}


@pytest.mark.parametrize("kind", sorted(PAPER_TEACHER_KEYS))
def test_the_paper_commands_and_the_map_share_one_teacher_per_base_model(kind, monkeypatch):
    from htd_tutorial.course.evidence_map import SETTINGS
    from htd_tutorial.paper import reproduce as reproduce_module
    expected = PAPER_TEACHER_KEYS[kind]
    assert TeacherConfig.paper(kind).key() == expected
    [setting] = [s for s in SETTINGS.values() if s.dataset == "citeulike" and s.kind == kind]
    assert setting.teacher.key() == expected
    # the students train at the teacher's rate, decay and validation interval, as reproduce's do
    student = setting.config("student", 20, seed=0, lr=setting.lr)
    assert (student.lr, student.weight_decay, student.eval_every) == (expected["lr"], expected["weight_decay"], 10)
    seen = {}
    monkeypatch.setattr(reproduce_module, "_sweep", lambda data, configs, teacher, **_: seen.update(
        teacher=teacher.key(), student=configs[0]))
    reproduce_module.reproduce("unused", kind=kind, dims=(20,), methods=("student",), seeds=(0,))
    assert seen["teacher"] == expected
    assert seen["student"] == student


def test_lightgcn_depth_is_one_setting_with_one_key(data, tmp_path, no_training):
    """The default depth is the same configuration as none given (one key, the keys stored before the field
    existed); a BPR model refuses a depth; a depth reaches the model that is built."""
    lightgcn = dict(kind="lightgcn", directory=tmp_path, progress=False, verbose=False)
    assert TeacherConfig(kind="lightgcn", depth=3).depth is None and RunConfig("student", 4, kind="lightgcn",
                                                                              depth=3).depth is None
    assert _key(get_teacher, data, **lightgcn, depth=3) == _key(get_teacher, data, **lightgcn)
    for make in (lambda: TeacherConfig(depth=2), lambda: RunConfig("student", 4, depth=2),
                 lambda: make_model("bpr", data, 4, depth=2)):
        with pytest.raises(ValueError, match="depth is LightGCN's number of layers"):
            make()
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        TeacherConfig(kind="lightgcn", depth=0)
    assert make_model("lightgcn", data, 4, depth=2).n_layers == 2 and make_model("lightgcn", data, 4).n_layers == 3
    assert TeacherConfig(kind="lightgcn", depth=2).label == "teacher lightgcn d=200 depth 2"
