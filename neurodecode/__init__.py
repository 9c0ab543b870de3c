"""neurodecode: decode EEG/MEG with MNE preprocessing, braindecode and classical models,
and MOABB offline and pseudo-online benchmarks.

Subpackages follow the data flow: ``datasets`` -> preprocessing -> windows ->
models -> evaluation -> results -> CLI. Import them explicitly; importing
``neurodecode`` alone stays cheap.
"""
__version__ = "0.1.0"
