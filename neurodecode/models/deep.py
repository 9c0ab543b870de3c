"""braindecode networks as scikit-learn classifiers that size themselves at fit."""
from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from ..private_api import tensor_version
from .augmentation import augmentations
from .kernels import merge_combined_convolutions
from .lookup import model_class
from .receptive_field import accepted, forward_ok, min_n_times
from .signal import as_signal
from .skorch_net import net_class, plain_chs

__all__ = ["DeepClassifier"]















class DeepClassifier(ClassifierMixin, BaseEstimator):
    """A braindecode network trained with neurodecode's shared training loop.

    Shape parameters (``n_chans``, ``n_outputs``, ``n_times``, ``sfreq``,
    ``chs_info``) are read from the data at fit, so one definition runs on
    any dataset. Training: AdamW with a cosine learning-rate schedule over
    ``max_epochs``, early stopping on a stratified validation split of the
    training data (best weights restored), class-weighted cross-entropy,
    optional braindecode augmentations, fixed seeds, CUDA when present and
    bfloat16 autocast on GPU.

    Parameters
    ----------
    model : str
        A braindecode model class name (``"ShallowFBCSPNet"``, ``"EEGNet"``,
        ``"ATCNet"``...) or an alias (``"ShallowConvNet"``, ``"DeepConvNet"``,
        ``"EEGNet-8,2"``).
    model_params : dict | None
        Extra keyword arguments of the model.
    max_epochs : int
        Upper bound on training epochs (and the cosine schedule's period).
    batch_size : int
    lr : float
        Initial learning rate of AdamW.
    weight_decay : float
    patience : int
        Epochs without validation-loss improvement before stopping.
    valid_size : float
        Share of the training windows held out for early stopping (0 disables
        the split and early stopping).
    class_weight : "balanced" | None
        Weight the loss by inverse class frequency.
    augment : list | None
        braindecode augmentations by name, e.g. ``["FrequencyShift",
        {"GaussianNoise": {"std": 0.1}}]``; applied with probability 0.5.
    sfreq : float | None
        Sampling frequency in Hz, for arrays (Epochs carry theirs).
    random_state : int
        Seeds torch, NumPy and the validation split.
    device : "auto" | str
        ``"auto"`` picks CUDA when available, else the CPU.
    amp : bool
        bfloat16 mixed precision on CUDA (ignored on the CPU).
    pretrained : str | Path | None
        A foundation model's weights (see :mod:`neurodecode.models.pretrained`):
        a folder written by braindecode's ``save_pretrained``, or a Hugging Face
        repository id already in the local cache. The data must then fit the
        encoder's channels, rate and window length; a new head is trained for
        the classes.
    finetune : "full" | "linear-probe" | "last-blocks" | "lora"
        What trains, with ``pretrained``: every weight, the head alone, the
        head and the last ``finetune_blocks`` encoder blocks, or low-rank
        adapters of rank ``lora_rank`` (peft) with the encoder frozen.
    finetune_blocks, lora_rank : int
    verbose : int
        0 is quiet; 1 prints skorch's per-epoch table.

    Attributes
    ----------
    classes_ : ndarray
    net_ : braindecode.EEGClassifier
        The fitted network.
    scale_ : float
        Inputs are multiplied by this (1 / training standard deviation), so
        volts and microvolts train alike.
    n_chans_, n_times_ : int
    sfreq_ : float | None

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 4, 128)).astype("float32"), np.repeat(["a", "b"], 20)
    >>> clf = DeepClassifier("ShallowFBCSPNet", max_epochs=2, sfreq=128.0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (40, 2)
    """

    def __init__(self, model="ShallowFBCSPNet", *, model_params=None, max_epochs=100, batch_size=64,
                 lr=1e-3, weight_decay=1e-2, patience=20, valid_size=0.2, class_weight="balanced",
                 augment=None, sfreq=None, random_state=42, device="auto", amp=True, pretrained=None,
                 finetune="full", finetune_blocks=1, lora_rank=8, verbose=0):
        self.model = model
        self.model_params = model_params
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.valid_size = valid_size
        self.class_weight = class_weight
        self.augment = augment
        self.sfreq = sfreq
        self.random_state = random_state
        self.device = device
        self.amp = amp
        self.pretrained = pretrained
        self.finetune = finetune
        self.finetune_blocks = finetune_blocks
        self.lora_rank = lora_rank
        self.verbose = verbose

    # -- helpers -----------------------------------------------------------
    def _signal(self, X):
        from mne import BaseEpochs

        chs_info = X.info["chs"] if isinstance(X, BaseEpochs) else None
        X, sfreq = as_signal(X, self.sfreq, "DeepClassifier", require_sfreq=False)
        return X, sfreq, chs_info

    def _module_params(self, cls, fixed, n_chans, n_times, sfreq, chs_info, n_outputs):
        signal = {"n_chans": n_chans, "n_outputs": n_outputs, "n_times": n_times,
                  "sfreq": sfreq, "chs_info": chs_info}
        if sfreq is not None and "input_window_seconds" in inspect.signature(cls.__init__).parameters:
            signal["input_window_seconds"] = n_times / sfreq
        return {**accepted(cls, signal), **fixed, **(self.model_params or {})}

    def _check_length(self, cls, params, sfreq):
        if forward_ok(cls, params, params["n_times"]):
            return
        need = min_n_times(cls, {k: v for k, v in params.items()
                                 if k not in {"n_times", "input_window_seconds"}})
        have = params["n_times"]
        at = f" ({have / sfreq:g} s at {sfreq:g} Hz)" if sfreq else ""
        if need is None:
            raise ConfigError(f"{self.model} cannot be built for {params['n_chans']} channels and "
                              f"{have} samples{at}; check model_params")
        secs = f" = {need / sfreq:g} s" if sfreq else ""
        raise ConfigError(
            f"windows of {have} samples{at} are too short for {self.model}: its receptive field "
            f"needs n_times >= {need}{secs}; use longer windows, a higher sfreq or a smaller model"
        )

    def _device(self):
        import torch

        from ..environment import check_device

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        check_device(self.device)
        return self.device

    def check_input(self, n_chans: int, n_times: int, sfreq: float | None = None, n_outputs: int = 2) -> None:
        """Refuse, before any training, windows the network cannot take (shorter than its receptive field).

        Parameters
        ----------
        n_chans, n_times : int
            Window shape.
        sfreq : float | None
            Sampling rate in Hz, for messages in seconds and for networks that need it.
        n_outputs : int
            Number of classes.

        Raises
        ------
        ConfigError
            Naming the minimum ``n_times``.

        Examples
        --------
        >>> DeepClassifier("ShallowConvNet").check_input(8, 16, sfreq=128.0)
        Traceback (most recent call last):
        ...
        neurodecode.errors.ConfigError: windows of 16 samples (0.125 s at 128 Hz) are too short for ShallowConvNet: ...
        """
        cls, fixed = model_class(self.model)
        if self.pretrained is not None:  # the pretrained encoder's own shape, not a receptive field
            from .pretrained import check_contract, expected_input, fetched_at_build, locate_weights, pretrained_config

            if not getattr(cls, "sensor_agnostic", False):  # sensors are checked on the data, at fit
                check_contract(self.model, expected_input(self.model, self.pretrained), n_chans, n_times, sfreq,
                               None)
            fetched_at_build(self.model, None, pretrained_config(self.model, locate_weights(self.model,
                                                                                            self.pretrained)))
            return
        self._check_length(cls, self._module_params(cls, fixed, n_chans, n_times, sfreq, None, n_outputs), sfreq)

    # -- estimator API -----------------------------------------------------
    def fit(self, X, y):
        """Build the network for these windows and train it."""
        cls, fixed = model_class(self.model)  # first: imports braindecode quietly

        import torch
        from braindecode.util import set_random_seeds
        from skorch.callbacks import EarlyStopping, LRScheduler
        from skorch.dataset import ValidSplit

        X, sfreq, chs_info = self._signal(X)
        y = np.asarray(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ConfigError(f"DeepClassifier needs at least 2 classes, got {list(self.classes_)}")
        _, self.n_chans_, self.n_times_ = X.shape
        self.sfreq_ = sfreq
        module = None
        if self.pretrained is not None:  # the encoder's shape is its own: the data must fit it
            from .pretrained import load_pretrained

            module, params = load_pretrained(
                self.model, self.pretrained, n_outputs=len(self.classes_), n_chans=self.n_chans_,
                n_times=self.n_times_, sfreq=sfreq, chs_info=chs_info,
                strategy=self.finetune, blocks=self.finetune_blocks, rank=self.lora_rank)
        else:
            params = self._module_params(cls, fixed, self.n_chans_, self.n_times_, sfreq, chs_info,
                                         len(self.classes_))
            self._check_length(cls, params, sfreq)
        std = float(np.std(X))
        self.scale_ = 1.0 / std if std > 0 else 1.0
        device = self._device()
        set_random_seeds(self.random_state, cuda=device.startswith("cuda"))
        callbacks = [("lr_scheduler", LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR,
                                                   T_max=self.max_epochs))]
        split = None
        if self.valid_size:
            split = ValidSplit(self.valid_size, stratified=True, random_state=self.random_state)
            callbacks.append(("early_stopping", EarlyStopping(patience=self.patience, load_best=True)))
        weight = None
        if self.class_weight == "balanced":
            weight = torch.as_tensor(compute_class_weight("balanced", classes=np.arange(len(self.classes_)),
                                                          y=y_idx), dtype=torch.float32)
        transforms = augmentations(self.augment, sfreq, self.random_state)
        extra = {}
        if transforms:
            from braindecode.augmentation import AugmentedDataLoader
            extra = {"iterator_train": AugmentedDataLoader, "iterator_train__transforms": transforms}
        self.module_params_ = params
        self.net_ = self._build_net(module or cls, params, device, criterion__weight=weight, train_split=split,
                                    callbacks=callbacks, **extra)
        with warnings.catch_warnings():
            if not self.verbose:
                warnings.simplefilter("ignore")
            self.net_.fit(self._scaled(X), y_idx)
        return self

    def _build_net(self, module, params, device, **settings):
        """skorch's net around ``module``: a class built from ``params``, or a module already built."""
        import torch

        built = isinstance(module, torch.nn.Module)
        return net_class()(
            module, **({} if built else {f"module__{k}": v for k, v in params.items()}),
            criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.AdamW, optimizer__lr=self.lr,
            optimizer__weight_decay=self.weight_decay, batch_size=self.batch_size,
            max_epochs=self.max_epochs, device=device, amp=self.amp, verbose=self.verbose,
            classes=list(range(len(self.classes_))), iterator_train__shuffle=True,
            iterator_train__drop_last=False,  # small calibration sets are smaller than a batch
            **settings,
        )

    # Networks with parametrized weights (max-norm constraints) cannot be pickled whole, so a
    # fitted classifier keeps its weights only, in the safetensors format: the same state serves
    # pickling (worker processes) and model files (skops.io, which runs no code on load).
    def __getstate__(self):
        from .persistence import network_state

        state = self.__dict__.copy()
        state.pop("_inference", None)
        if "net_" in state:
            state["net_"] = network_state(self.net_.module_)
        if state.get("module_params_", {}).get("chs_info") is not None:
            state["module_params_"] = {**state["module_params_"],
                                       "chs_info": plain_chs(state["module_params_"]["chs_info"])}
        return state

    def __setstate__(self, state):
        from .persistence import network_weights

        self.__dict__.update(state)
        if isinstance(state.get("net_"), (bytes, str)):
            cls, _ = model_class(self.model)
            device = self._device()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = cls
                if getattr(self, "pretrained", None) is not None:  # its architecture, then its own weights
                    from .pretrained import build_pretrained

                    module = build_pretrained(self.model, self.module_params_, strategy=self.finetune,
                                              blocks=self.finetune_blocks, rank=self.lora_rank)
                self.net_ = self._build_net(module, self.module_params_, device, train_split=None).initialize()
            self.net_.module_.load_state_dict(network_weights(state["net_"], device))
            self.net_.signal_args_set_ = True  # else braindecode re-sizes (re-initialises) it on partial_fit

    def fine_tune(self, X, y, *, max_epochs: int = 30, lr: float = 5e-4, freeze: bool = False,
                  verbose: int = 0) -> "DeepClassifier":
        """A copy of this fitted network trained further on target trials; this one is left unchanged.

        The source input scaling is kept. Its presence marks networks that
        can be fine-tuned (the cross-dataset evaluation asks for it, not for
        the class).

        Parameters
        ----------
        X, y
            Target calibration windows (same channels, length and classes).
        max_epochs : int
            Fine-tuning epochs; with so few trials there is no validation split.
        lr : float
            Initial learning rate (cosine-annealed to 0 over ``max_epochs``).
        freeze : bool
            Train only the classification head (``final_layer``), keeping the
            source feature extractor.
        verbose : int
            0 is quiet.
        """
        from .transfer import fine_tune

        return fine_tune(self, X, y, max_epochs=max_epochs, lr=lr, freeze=freeze, verbose=verbose)

    def _scaled(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=np.float32) * np.float32(self.scale_))

    def _inference_module(self):
        """The fitted network in eval mode, with merged convolutions; rebuilt when weights change."""
        network = self.net_.module_
        key = tuple((id(w), tensor_version(w)) for w in [*network.parameters(), *network.buffers()])
        cached = self.__dict__.get("_inference")
        if cached is None or cached[0] != key:
            cached = (key, merge_combined_convolutions(self.net_.module_))
            self._inference = cached
        return cached[1]

    def predict_proba(self, X):
        """Class probabilities, shape (n_windows, n_classes).

        The forward pass runs without skorch's data loader, ``batch_size``
        windows at a time: the same outputs as ``net_.predict_proba`` (to
        float32 rounding), at a fraction of the per-call cost online.
        """
        import torch

        check_is_fitted(self, "net_")
        X, _, _ = self._signal(X)
        if X.shape[1:] != (self.n_chans_, self.n_times_):
            raise ConfigError(f"this network was trained on windows of {self.n_chans_} channels x "
                              f"{self.n_times_} samples, got {X.shape[1]} x {X.shape[2]}")
        module = self._inference_module()
        device = self.net_.device
        autocast = self.amp and str(device).startswith("cuda")
        out = []
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            for i in range(0, len(X), self.batch_size):
                batch = torch.from_numpy(self._scaled(X[i:i + self.batch_size])).to(device)
                # skorch's predict_proba for a cross-entropy criterion: softmax over the last axis
                out.append(torch.softmax(module(batch), dim=-1).float().cpu().numpy())
        return np.concatenate(out)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
