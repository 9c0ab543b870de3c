"""Preprocessing: recipes of MNE-based cleaning steps, a run cache, and MOABB integration.

Data flow: a dataset's continuous runs go through a :class:`Recipe`'s raw
steps (cached per run by :class:`RunCache`); :mod:`neurodecode.windows`
then cuts windows and applies the recipe's window steps.
"""
from .base import STEPS, RawStep, Step, WindowStep
from .cache import CachedRun, RunCache
from .channels import TEMPLATES, canonical_name
from .dataset import PreprocessedDataset, RecipeStamp, with_recipe
from .recipe import Recipe, list_steps

__all__ = ["Recipe", "list_steps", "Step", "RawStep", "WindowStep", "STEPS", "RunCache",
           "CachedRun", "PreprocessedDataset", "with_recipe", "RecipeStamp", "TEMPLATES",
           "canonical_name"]
