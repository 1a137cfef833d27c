"""Checkpoint files and the trained-teacher cache.

Training a dim-200 teacher takes minutes, so every notebook, the explorer and the reproduction
command share one cache. A file is keyed by a hash of the data split, the full training config and
:data:`CACHE_VERSION` (the version of the training, model and loss code), so neither a changed
setting nor a newer version of the course can pick up a stale model. Files are written to a
temporary name and renamed (never half-written), loaded with ``torch.load(weights_only=True)`` (no
pickle code runs), and carry a SHA-256 of their tensors. A file that is unreadable, truncated,
stale or of the wrong shapes is reported with one warning and rebuilt, never used; a cache folder
that cannot be written is reported and the freshly trained model used all the same.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import torch

from .config import TeacherConfig
from .data import Interactions
from .models import Recommender, make_model
from .stored import ABOVE_PACKAGE, checkout_root, user_dir
from .training import History, train

__all__ = ["cache_dir", "config_key", "tensor_digest", "save_checkpoint", "load_checkpoint", "CorruptCacheError",
           "read_cached", "write_cached", "get_teacher", "CACHE_VERSION", "shown_path", "PartialRun",
           "SNAPSHOT_SECONDS"]

FORMAT_VERSION = 1
#: The version of the code that cached models depend on (data loading, models, training, losses,
#: evaluation of the stored histories). Bump it by hand whenever a change there would make a cached
#: teacher or run differ from a fresh one: every cache key changes, so old files are never reused.
#: 2: evaluation counts ties as the expected rank under random tie-breaking (histories changed).
#: 3: histories record the loss trace (``History.loss_trace``); no number of a run changed, but a run
#: cached before has no trace for notebooks 02-03 to plot.
CACHE_VERSION = 3
#: Seconds of training between two snapshots of an unfinished teacher or run (:class:`PartialRun`).
#: CiteULike snapshots measured 25 MB (LightGCN HTD, dim 20; written in 0.09 s), 69 MB (LightGCN HTD,
#: dim 100) and 131 MB (BPR DE, dim 200, whose distiller holds the teacher's tables); every five minutes,
#: a stopped run loses at most five minutes of training.
SNAPSHOT_SECONDS = 300.0


class CorruptCacheError(RuntimeError):
    """A cache file exists but cannot be trusted (unreadable, truncated, or checksum mismatch)."""


def cache_dir() -> Path:
    """Where cached models live: ``$HTD_CACHE_DIR``, else ``<repo>/data/cache`` (git-ignored) when
    the package runs from a checkout, else ``~/.cache/htd-tutorial`` (pip-installed, e.g. on Colab).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    env = os.environ.get("HTD_CACHE_DIR")
    if env:
        return Path(env)
    root = checkout_root()  # (not the folder above an installed package: that is site-packages)
    if root is not None and (root / "data").is_dir() and os.access(root / "data", os.W_OK):
        return root / "data" / "cache"
    return user_dir()


def config_key(data: Interactions, config: dict) -> str:
    """Hex SHA-256 of the data fingerprint, the JSON-sorted config, the file format version and
    :data:`CACHE_VERSION`."""
    payload = json.dumps({"data": data.fingerprint(), "config": config, "format": FORMAT_VERSION,
                          "code": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """Hex SHA-256 over the names, shapes and bytes of a dict of tensors (order-independent)."""
    h = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        # flattened first: a 0-dim tensor (an optimiser's step count) cannot be viewed as bytes; for any
        # other tensor the bytes, and so every digest written before, are the same
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return h.hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write tensors plus JSON-able ``meta`` atomically (temp file in the same folder, then rename).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: t.detach().cpu() for name, t in state.items()}
    blob = {"state": state, "meta_json": json.dumps(meta), "sha256": tensor_digest(state),
            "format": FORMAT_VERSION, "code": CACHE_VERSION}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from the other users of a shared folder
        torch.save(blob, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`save_checkpoint`; raise :class:`CorruptCacheError` if it is
    unreadable, its checksum does not match, or it was written by another :data:`CACHE_VERSION`.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        state, meta = blob["state"], json.loads(blob["meta_json"])
        ok = blob.get("format") == FORMAT_VERSION and blob["sha256"] == tensor_digest(state)
    except FileNotFoundError:
        raise
    except Exception as exc:  # any failure to read means the file cannot be trusted
        raise CorruptCacheError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from exc
    if not ok:
        raise CorruptCacheError(f"{path}: checksum mismatch or unknown format")
    if blob.get("code") != CACHE_VERSION:
        raise CorruptCacheError(f"{path}: stale, written by cache version {blob.get('code')} "
                                f"(this code is version {CACHE_VERSION})")
    return state, meta


def read_cached(path: Path, what: str, restore):
    """Load ``path`` and return ``restore(state, meta)``; ``None`` when there is no such file, or (with
    one ``RuntimeWarning`` naming ``what`` and the reason) when the file cannot be trusted: unreadable,
    truncated, stale, or ``restore`` rejects it (wrong shapes or missing entries). The caller rebuilds."""
    if not path.exists():
        return None
    try:
        state, meta = load_checkpoint(path)
        return restore(state, meta)
    except (CorruptCacheError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())   # one line, also for torch's multi-line errors
        warnings.warn(f"ignoring the cached {what} ({shown_path(path)}) and rebuilding it: {reason}",
                      RuntimeWarning, stacklevel=3)
        return None


def write_cached(path: Path, state: dict[str, torch.Tensor], meta: dict, what: str) -> bool:
    """:func:`save_checkpoint`, but a folder that cannot be written only warns (the caller keeps the
    model it just trained); returns whether the file was written."""
    try:
        save_checkpoint(path, state, meta)
        return True
    except OSError as exc:
        warnings.warn(f"could not cache the {what} at {shown_path(path)} ({type(exc).__name__}: {exc}); "
                      "it is used but will be trained again next time", RuntimeWarning, stacklevel=3)
        return False


def shown_path(path: str | Path) -> str:
    """``path`` as printed for a learner: relative to the repository when inside it, else with ``~`` for
    the home folder, so that stored notebook outputs never show the paths of the machine that ran them."""
    path = Path(path).resolve()
    for root, prefix in ((ABOVE_PACKAGE, ""), (Path.home().resolve(), "~/")):
        try:
            return prefix + str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


class PartialRun:
    """The snapshot of an unfinished training run (:mod:`htd_tutorial.snapshot`), kept beside the cache
    file the finished run will have, as ``<name>.partial.pt``: pass it to :func:`~htd_tutorial.training.train`
    as ``snapshots`` and a run stopped half-way (a closed laptop, the end of a session) resumes from its
    last snapshot instead of epoch 0. Written like every cache file (temp file, rename, checksum); a
    snapshot that cannot be trusted is reported with one warning and ignored, and a folder that cannot
    be written warns once and the run goes on without snapshots. :meth:`discard` it once the finished
    run is stored.

    Parameters
    ----------
    final : path
        The cache file of the finished run.
    what : str
        How messages name the run (``"run HTD d=20"``).
    every : float, optional
        Seconds of training between two snapshots (default :data:`SNAPSHOT_SECONDS`, read when the
        store is made).
    """

    def __init__(self, final: str | Path, what: str, every: float | None = None):
        final = Path(final)
        self.path = final.with_name(final.name.removesuffix(".pt") + ".partial.pt")
        self.what = f"unfinished {what}"
        self.every = float(SNAPSHOT_SECONDS if every is None else every)

    def load(self) -> tuple[dict[str, torch.Tensor], dict] | None:
        """The last snapshot (tensors, meta), or ``None``."""
        return read_cached(self.path, self.what, lambda state, meta: (state, meta))

    def save(self, state: dict[str, torch.Tensor], meta: dict) -> None:
        """Replace the snapshot; after a failed write, stop taking snapshots (one warning)."""
        if not write_cached(self.path, state, meta, self.what):
            self.every = float("inf")

    def discard(self) -> None:
        """Remove the snapshot (the finished run is stored); a folder that cannot be read has none."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass


def get_teacher(data: Interactions, config: TeacherConfig | None = None, *, directory: str | Path | None = None,
                progress: bool = True, verbose: bool = True, threads: int | None = None,
                **settings) -> tuple[Recommender, History]:
    """Train a teacher, or load it from the cache when this exact data + config was trained before.

    Parameters
    ----------
    data : Interactions
        The dataset.
    config : TeacherConfig, optional
        The teacher's settings (:class:`htd_tutorial.config.TeacherConfig`: kind, dim, epochs, seed, lr,
        weight_decay, batch_size, optimizer, eval_every, depth); all of it is in the key. Without it,
        ``settings`` (its fields by name, e.g. ``dim=8``) make one; not both.
    directory : path, optional
        Cache folder (default :func:`cache_dir`).
    progress, verbose : bool
        Progress bar while training; one line saying whether the cache was used.
    threads : int, optional
        CPU threads while training (:func:`htd_tutorial.training.train`); not part of the key.

    Returns
    -------
    (Recommender, History)
        The trained teacher (in eval mode) and its training history.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if config is None:
        config = TeacherConfig(**settings)      # the settings are checked here, once
    elif settings:
        raise TypeError(f"get_teacher() takes a TeacherConfig or its fields by name, not both ({sorted(settings)})")
    kind, dim, seed, label = config.kind, config.dim, config.seed, config.label
    key = config_key(data, config.key())
    path = Path(directory or cache_dir()) / f"teacher-{kind}-d{dim}-e{config.epochs}-{key[:16]}.pt"
    model = make_model(kind, data, dim, seed=seed, depth=config.depth)
    partial = PartialRun(path, label)

    def restore(state, meta):
        model.load_state_dict(state)
        return History.from_dict(meta["history"])

    if path.exists():
        history = read_cached(path, label, restore)
        if history is not None:
            model.eval()
            if verbose:
                print(f"Loaded cached teacher from {shown_path(path)}")
            return model, history
        model = make_model(kind, data, dim, seed=seed, depth=config.depth)   # the rejected file may have half-loaded it
    history = train(model, data, config.training, progress=progress, desc=label, threads=threads,
                    snapshots=partial)
    stored = write_cached(path, model.state_dict(), {"config": config.key(), "history": history.to_dict()}, label)
    partial.discard()
    if verbose:
        print(f"Trained teacher in {history.seconds:.0f} s" + (f"; cached at {shown_path(path)}" if stored else ""))
    return model, history
