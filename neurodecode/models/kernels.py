"""Inference-time kernel merging for braindecode networks."""
from __future__ import annotations

__all__ = ["merge_combined_convolutions"]


def merge_combined_convolutions(module):
    """An eval-mode copy of a network with each braindecode ``CombinedConv`` as one ``Conv2d``.

    ``CombinedConv`` (ShallowFBCSPNet, Deep4Net) convolves in time and then
    across channels with no non-linearity between, and merges the two kernels
    on every forward pass; at one window per call the merge costs more than
    the convolution. The merged kernel is computed here once. Networks
    without it are returned as they are, in eval mode.

    Examples
    --------
    >>> import torch
    >>> from braindecode.models import ShallowFBCSPNet
    >>> net = ShallowFBCSPNet(n_chans=4, n_outputs=2, n_times=100).eval()
    >>> x = torch.randn(3, 4, 100)
    >>> bool(torch.allclose(merge_combined_convolutions(net)(x), net(x), atol=1e-5))
    True
    """
    import copy

    import torch
    from braindecode.modules import CombinedConv

    found = [name for name, child in module.named_modules() if isinstance(child, CombinedConv)]
    if not found:
        return module.eval()
    module = copy.deepcopy(module).eval()
    for name in found:
        combined = module.get_submodule(name)
        w_time, w_spat = combined.conv_time.weight, combined.conv_spat.weight  # (F,1,T,1), (S,F,1,C)
        merged = torch.nn.Conv2d(1, w_spat.shape[0], (w_time.shape[2], w_spat.shape[3]))
        with torch.no_grad():
            merged.weight.copy_(torch.einsum("ft,sfc->stc", w_time[:, 0, :, 0], w_spat[:, :, 0, :])[:, None])
            bias = torch.zeros(w_spat.shape[0])
            if combined.bias_time:
                bias += w_spat.sum(dim=(2, 3)) @ combined.conv_time.bias
            if combined.bias_spat:
                bias += combined.conv_spat.bias
            merged.bias.copy_(bias)
        parent, _, attr = name.rpartition(".")
        setattr(module.get_submodule(parent), attr, merged.to(w_spat.device))
    return module
