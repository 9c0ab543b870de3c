"""braindecode augmentations by name, for the training loop."""
from __future__ import annotations

from ..errors import UnknownNameError
from .receptive_field import accepted

__all__ = ["augmentations"]


def augmentations(spec, sfreq, random_state) -> list:
    """braindecode transforms from names or ``{name: params}`` mappings."""
    import braindecode.augmentation as aug

    if not spec:
        return []
    items = [spec] if isinstance(spec, (str, dict)) else list(spec)
    known = [n for n in aug.__all__ if n not in {"Transform", "IdentityTransform", "Compose",
                                                 "AugmentedDataLoader", "functional"}]
    transforms = []
    for item in items:
        name, params = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        if name not in known:
            raise UnknownNameError("augmentation", name, known)
        cls = getattr(aug, name)
        defaults = {"probability": 0.5, "random_state": random_state, "sfreq": sfreq}
        transforms.append(cls(**{**accepted(cls, defaults), **(params or {})}))
    return transforms
