"""neurodecode: decode EEG/MEG with MNE preprocessing, braindecode and classical models,
and MOABB offline and pseudo-online benchmarks.

Subpackages follow the data flow: ``datasets`` -> preprocessing -> windows ->
models -> evaluation -> benchmark -> CLI. Import them explicitly; importing
``neurodecode`` alone stays cheap.
"""
__version__ = "0.1.0"
__all__ = ["run_benchmark"]


def __getattr__(name: str):
    # run_benchmark imports MOABB and friends: load it on first use only
    if name == "run_benchmark":
        from .benchmark import run_benchmark

        return run_benchmark
    raise AttributeError(f"module 'neurodecode' has no attribute {name!r}")
