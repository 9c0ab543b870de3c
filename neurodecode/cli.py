"""Command line: ``neurodecode <command>``.

Heavy libraries are imported inside the commands, so ``neurodecode --help``
stays fast.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _cmd_datasets(args) -> int:
    import pandas as pd

    from .datasets import list_datasets

    table = list_datasets(local=args.local)
    if table.empty:
        print("no dataset has subjects on disk" if args.local else "no dataset known")
        return 0
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(index=False))
    return 0


def _cmd_demo(args) -> int:
    """Within-session CSP+LDA on synthetic motor imagery, through MOABB."""
    import warnings

    from mne.decoding import CSP
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    from .config import apply
    from .datasets import SyntheticMI

    cfg = apply()
    dataset = SyntheticMI(n_subjects=args.subjects, n_sessions=1, snr=args.snr, seed=args.seed)
    evaluation = WithinSessionEvaluation(
        paradigm=LeftRightImagery(), datasets=[dataset], overwrite=True, random_state=args.seed,
        hdf5_path=str(cfg.results_dir / "demo"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluation.process({"CSP+LDA": make_pipeline(CSP(n_components=6, log=True),
                                                               LinearDiscriminantAnalysis())})
    print(results[["dataset", "subject", "session", "pipeline", "score", "samples"]].to_string(index=False))
    print(f"mean ROC-AUC {results['score'].mean():.3f} over {len(results)} sessions")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurodecode`` command."""
    parser = argparse.ArgumentParser(prog="neurodecode", description="Decode EEG/MEG: datasets, "
                                     "preprocessing, models, offline and pseudo-online benchmarks.")
    parser.add_argument("--verbose", action="store_true", help="show MNE/MOABB logs")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("datasets", help="list datasets and the subjects present on disk")
    p.add_argument("--local", action="store_true", help="only datasets with subjects on disk")
    p.set_defaults(func=_cmd_datasets)
    p = sub.add_parser("demo", help="CSP+LDA on synthetic motor imagery (no files, no network)")
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--snr", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors print one line and exit non-zero."""
    args = build_parser().parse_args(argv)
    import logging

    if not args.verbose:
        import mne

        mne.set_log_level("ERROR")
        logging.getLogger("moabb").setLevel(logging.ERROR)
    from .errors import NeurodecodeError

    try:
        return args.func(args)
    except NeurodecodeError as exc:
        print(f"neurodecode: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("neurodecode: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
