"""Command line: ``python -m htd_tutorial reproduce ...``, ``... ablation ...``, ``... recipe ...`` or
``... fetch ...`` (see ``--help``).

Bad arguments fail at once, before torch is even imported: every value is checked by its argparse
``type=`` (whole numbers, an existing dataset, an output folder that can be one), and argparse, like
a problem found later (e.g. a data file that does not parse), reports it in one line on stderr
with exit status 2.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

# The names the commands accept, from their one owner (a module without torch, which takes seconds).
from .choices import (DEFAULT_EPOCHS, DEFAULT_MODE, DEFAULT_WEIGHT_DECAY, HTD_MODES, LIGHTGCN_DEPTH, METHODS,
                      MODEL_KINDS, PAPER_EVAL_EVERY, RECIPE_LR, RECIPE_WEIGHT_DECAY)
from .paper.results import DEFAULT_SEEDS, PAPER_DIMS, PAPER_METHODS


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (usage is one ``--help`` away), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole_number(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse ``type=``: a whole number >= 1 (dimensions, epochs)."""
    return _whole_number(text, 1)


def positive_float(text: str) -> float:
    """argparse ``type=``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse ``type=``: a finite number >= 0 (a weight decay)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse ``type=``: a whole number >= 0 (seeds; ``--eval-every 0`` evaluates only at the end)."""
    return _whole_number(text, 0)


def dataset(text: str) -> str:
    """argparse ``type=``: a dataset name of :data:`htd_tutorial.data.DATASETS`, or an existing file or folder.

    Whether the file's content is usable is only known once it is read (the command does that first,
    before any training).
    """
    from .data import DATASETS

    if text.strip().lower() in DATASETS or Path(text).expanduser().exists():
        return text
    raise argparse.ArgumentTypeError(f"no dataset named {text!r} and no file or folder {Path(text).expanduser()}; "
                                     f"give one of {', '.join(sorted(DATASETS))} or the path of an interaction file "
                                     "or of a folder with train.tsv, valid.tsv and test.tsv")


def output_folder(text: str) -> str:
    """argparse ``type=``: a folder that exists or can be made (checked now, not after hours of training)."""
    path = Path(text).expanduser()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{existing} is a file, so {path} cannot be the output folder")
    return text


def results_file(text: str) -> str:
    """argparse ``type=``: an existing ``.json`` file (a results file to take finished runs from)."""
    path = Path(text).expanduser()
    if path.suffix != ".json" or not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing results file (.json)")
    return str(path)


def existing_folder(text: str) -> str:
    """argparse ``type=``: a folder that exists (``fetch --source``)."""
    if not Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing folder")
    return text


def fetchable() -> tuple[str, ...]:
    """The datasets ``fetch`` knows: ``FETCHABLE`` of ``htd_tutorial/data/fetch.py``, its one owner.

    Read from the file's text, not imported: importing ``htd_tutorial.data`` imports torch (seconds),
    and a bad argument must fail before that (see the module's docstring).
    """
    path = Path(__file__).resolve().parent / "data" / "fetch.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "FETCHABLE"):
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError(f"{path} defines no literal FETCHABLE tuple")


def _run_options(command: argparse.ArgumentParser) -> None:
    """The options the commands share: evaluation schedule, output folder and name, progress bars."""
    command.add_argument("--eval-every", type=non_negative_int, default=PAPER_EVAL_EVERY,
                         help="evaluate every this many epochs (0: only after the last one; "
                              f"default: {PAPER_EVAL_EVERY})")
    command.add_argument("--out", type=output_folder, default="results", help="output folder (default: results)")
    command.add_argument("--name", default=None, help="file-name stem (default: dataset name)")
    command.add_argument("--no-progress", action="store_true")


def _threads_option(command: argparse.ArgumentParser) -> None:
    """``--threads``, for the commands that train: recorded with each run, not part of the cache key."""
    command.add_argument("--threads", type=positive_int, default=None,
                         help="CPU threads (default: the package's policy, see docs/performance.md, 'Thread policy')")


def _flush_option(command: argparse.ArgumentParser) -> None:
    """``--flush-denormal`` / ``--no-flush-denormal``, for the commands that train: recorded with each run,
    not part of the cache key."""
    command.add_argument("--flush-denormal", action=argparse.BooleanOptionalAction, default=True,
                         help="train with subnormal floats flushed to zero in every CPU thread (default: on; "
                              "HTD and DE run several times faster on many CPUs, with other last digits; "
                              "see htd_tutorial/_denormals.py); --no-flush-denormal trains as runs made "
                              "before 2026-12-07 were")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m htd_tutorial",
                     description="Topology distillation course: experiments from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="the paper's capacity-gap sweep (resumable; finished runs are cached)")
    rep.add_argument("--data", type=dataset, default="citeulike", help="dataset name or path (default: citeulike)")
    rep.add_argument("--dims", type=positive_int, nargs="+", default=list(PAPER_DIMS),
                     help=f"student dimensions (default: {' '.join(map(str, PAPER_DIMS))})")
    rep.add_argument("--methods", nargs="+", default=list(PAPER_METHODS), choices=METHODS)
    rep.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="student epochs (paper: 100)")
    rep.add_argument("--teacher-epochs", type=positive_int, default=DEFAULT_EPOCHS)
    rep.add_argument("--teacher-dim", type=positive_int, default=200)
    rep.add_argument("--model", default=MODEL_KINDS[0], choices=MODEL_KINDS)
    rep.add_argument("--mode", default=DEFAULT_MODE, choices=HTD_MODES,
                     help="authors' code or the paper's text, for every method (htd_tutorial/modes.py)")
    rep.add_argument("--seeds", type=non_negative_int, nargs="+", default=list(DEFAULT_SEEDS),
                     help=f"student seeds (default: {' '.join(map(str, DEFAULT_SEEDS))}); runs already in the "
                          "output JSON are kept, not trained again")
    rep.add_argument("--teacher-seed", type=non_negative_int, default=0,
                     help="seed of the one teacher and of the data split (default: 0)")
    recipes = ", ".join(f"{kind} {lr:g}" for kind, lr in RECIPE_LR.items())
    rep.add_argument("--lr", type=positive_float, default=None,
                     help=f"Adam's learning rate, teacher and students (default: the model's recipe: {recipes}; "
                          "another one needs its own --name)")
    decays = ", ".join(f"{kind} {wd:g}" for kind, wd in RECIPE_WEIGHT_DECAY.items())
    rep.add_argument("--weight-decay", type=non_negative_float, default=None,
                     help=f"Adam's weight decay, teacher and students (default: the model's recipe: {decays}; "
                          "another one needs its own --name)")
    rep.add_argument("--student-lr", type=positive_float, default=None,
                     help="the students' learning rate, if not --lr (see 'recipe --student-dim'; "
                          "another one needs its own --name)")
    _threads_option(rep)
    _flush_option(rep)
    _run_options(rep)
    rep.add_argument("--cached-only", action="store_true",
                     help="train no student: table and figure from the finished runs only")
    abl = sub.add_parser("ablation", help="HTD: the authors' code vs the clean reading, one switch at a time")
    abl.add_argument("--data", type=dataset, default="citeulike", help="dataset name or path (default: citeulike)")
    abl.add_argument("--dim", type=positive_int, default=20, help="student dimension (default: 20)")
    abl.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="student epochs (paper: 100)")
    abl.add_argument("--model", default=MODEL_KINDS[0], choices=MODEL_KINDS)
    abl.add_argument("--base", default=DEFAULT_MODE, choices=HTD_MODES,
                     help="the preset whose switches are flipped one at a time (default: authors)")
    abl.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0], help="student seeds (default: 0)")
    abl.add_argument("--baselines", nargs="*", default=[], choices=[m for m in METHODS if m != "htd"],
                     help="other methods at the same settings, for context (e.g. student ftd)")
    abl.add_argument("--teacher-epochs", type=positive_int, default=DEFAULT_EPOCHS)
    abl.add_argument("--teacher-dim", type=positive_int, default=200)
    abl.add_argument("--teacher-seed", type=non_negative_int, default=0)
    abl.add_argument("--cached-only", action="store_true",
                     help="train no student: table and figure from the finished runs only (the rest: 'not_run')")
    abl.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",  # names checked by run_ablation
                     help="train only these variants, e.g. one per process side by side: 'authors + mask_pe' "
                          "(quoted); the authors' preset is taken when finished, trained only when named "
                          "(default: all)")
    abl.add_argument("--stored", type=results_file, nargs="+", default=[], metavar="JSON",
                     help="more results files to take finished runs from, e.g. ablations run side by side "
                          "(one seed each, other --out folders)")
    _threads_option(abl)
    _flush_option(abl)
    _run_options(abl)
    rec = sub.add_parser("recipe", help="choose a model's learning rate (weight decay, LightGCN depth) on "
                                        "validation Recall@50")
    rec.add_argument("--data", type=dataset, default="citeulike", help="dataset name or path (default: citeulike)")
    rec.add_argument("--model", default=MODEL_KINDS[0], choices=MODEL_KINDS)
    rec.add_argument("--lrs", type=positive_float, nargs="+", required=True,
                     help="candidate learning rates (with --weight-decays: at least two candidates in all)")
    rec.add_argument("--weight-decays", type=non_negative_float, nargs="+", default=[DEFAULT_WEIGHT_DECAY],
                     help=f"candidate weight decays, each tried with every rate (default: {DEFAULT_WEIGHT_DECAY:g})")
    rec.add_argument("--depths", type=positive_int, nargs="+", default=None,
                     help=f"candidate LightGCN depths (layers), each tried with every rate and weight decay "
                          f"(default: {LIGHTGCN_DEPTH}); a teacher search only")
    rec.add_argument("--teacher-epochs", type=positive_int, default=DEFAULT_EPOCHS)
    rec.add_argument("--teacher-dim", type=positive_int, default=200)
    rec.add_argument("--teacher-seed", type=non_negative_int, default=0,
                     help="seed of the teacher, the data split and (with --student-dim) the student (default: 0)")
    rec.add_argument("--student-dim", type=positive_int, default=None,
                     help="compare the plain student of this size instead (the teacher at its recipe rate)")
    _threads_option(rec)
    _run_options(rec)
    get = sub.add_parser("fetch", help="download a dataset from its authors, verify it (SHA-256) and convert it "
                                       "to the TSVs the package reads")
    get.add_argument("dataset", choices=fetchable(), help="the dataset (CiteULike: the paper's split, "
                                                          "from the authors' repository at a pinned commit)")
    get.add_argument("--dest", type=output_folder, default=None,
                     help="folder for train.tsv, valid.tsv and test.tsv (default: where the package reads the "
                          "dataset from: HTD_CITEULIKE_DIR, else ../shared/data/citeulike beside the repository, "
                          "or ~/.cache/htd-tutorial/citeulike when pip-installed)")
    get.add_argument("--source", type=existing_folder, default=None, metavar="DIR",
                     help="convert the authors' files (Train, Valid, Test) downloaded by hand into DIR instead "
                          "of downloading them (offline); their SHA-256 is checked all the same")
    get.add_argument("--force", action="store_true",
                     help="replace TSVs in the destination that differ from the dataset's")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; a bad argument exits with status 2 (argparse), bad data or settings found later return 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "reproduce":
            from .paper.reproduce import reproduce

            reproduce(args.data, dims=tuple(args.dims), methods=tuple(args.methods), epochs=args.epochs,
                      teacher_dim=args.teacher_dim, teacher_epochs=args.teacher_epochs, kind=args.model,
                      mode=args.mode, seeds=tuple(args.seeds), teacher_seed=args.teacher_seed,
                      eval_every=args.eval_every, out=args.out, name=args.name, progress=not args.no_progress,
                      cached_only=args.cached_only, threads=args.threads, lr=args.lr,
                      student_lr=args.student_lr, weight_decay=args.weight_decay,
                      flush_denormal=args.flush_denormal)
        elif args.command == "ablation":
            from .paper.ablation import run_ablation

            run_ablation(args.data, dim=args.dim, epochs=args.epochs, kind=args.model, base=args.base,
                         seeds=tuple(args.seeds), teacher_dim=args.teacher_dim, teacher_epochs=args.teacher_epochs,
                         teacher_seed=args.teacher_seed, eval_every=args.eval_every,
                         baselines=tuple(args.baselines), out=args.out, name=args.name,
                         progress=not args.no_progress, threads=args.threads, cached_only=args.cached_only,
                         stored_files=tuple(args.stored), variants=args.variants,
                         flush_denormal=args.flush_denormal)
        elif args.command == "recipe":
            from .paper.recipe import choose_lr

            choose_lr(args.data, kind=args.model, lrs=tuple(args.lrs), dim=args.teacher_dim,
                      epochs=args.teacher_epochs, seed=args.teacher_seed, eval_every=args.eval_every,
                      out=args.out, name=args.name, progress=not args.no_progress, threads=args.threads,
                      student_dim=args.student_dim, weight_decays=tuple(args.weight_decays),
                      depths=tuple(args.depths) if args.depths else (None,))
        elif args.command == "fetch":
            import os

            from .data import citeulike_dir
            from .data.fetch import fetch

            done = fetch(args.dataset, args.dest, source=args.source, force=args.force)
            what = "wrote" if done.written else "already in place:"
            print(f"{done.dataset}: {what} {', '.join(p.name for p in done.files)} in {done.dest} "
                  f"({done.n_users:,} users, {done.n_items:,} items, {done.n_train:,} training pairs)")
            if done.dest.resolve() != citeulike_dir().resolve():
                print(f"the package reads {done.dataset} from {citeulike_dir()}; to read this copy, set "
                      f"HTD_CITEULIKE_DIR={os.fspath(done.dest)}")
    except ValueError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception's text
        print(f"python -m htd_tutorial {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
