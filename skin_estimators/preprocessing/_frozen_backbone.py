"""The frozen network of :class:`PretrainedFeatures`: building it, and reading its stages."""

from ..networks._backbones import BACKBONES
from ..utils._param_validation import Satisfies, is_int

__all__ = ["StageRange", "are_stage_indices", "build_backbone", "stage_features",
           "stage_list", "staged_families"]


def build_backbone(model, pretrained, seeded=True):
    """Backbone ``model`` of the backbone table without its head, in eval mode, on the CPU.

    ``pretrained=False`` gives random weights, always the same ones with ``seeded`` (torch
    seed 0, the caller's random stream untouched): every fit of a cross-validation then sees
    the same features, and the feature cache serves them. Unseeded is for a model file,
    which overwrites the weights (``manual_seed`` would also make torch record the caller's
    stack for CUDA, reading source files).
    """
    import torch

    from ..networks import create_pretrained

    with torch.random.fork_rng(devices=[]):
        if seeded:
            torch.manual_seed(0)
        # n_classes=0: timm drops the head and returns the globally pooled features.
        return create_pretrained(tag=model, n_classes=0, pretrained=pretrained,
                                 owner=f"PretrainedFeatures({model!r})").eval()


def stage_features(model, backbone, stages, x):
    """The global means of ``stages``' outputs, then the pooled output, one row per image.

    The stages are read through timm's ``forward_intermediates``, at the indices the
    backbone's entry gives them (``Backbone.feature_stages``).
    """
    import torch

    final, outputs = model.forward_intermediates(
        x, indices=[backbone.feature_stages[i] for i in stages], **dict(backbone.intermediates))
    pooled = model.forward_head(final, pre_logits=True)
    return torch.cat([*(t.mean((2, 3)) for t in outputs), pooled], 1)


def stage_list(stages):
    """``stages`` (one stage index, or a tuple or list of them) as a list."""
    return list(stages) if isinstance(stages, tuple | list) else [stages]


def are_stage_indices(stages):
    """A stage index or a tuple or list of them (their range depends on the backbone)."""
    return all(is_int(i) for i in stage_list(stages))


class StageRange:
    """Has the constraint of ``stages`` for a backbone of ``n_stages`` stages."""

    def __init__(self, n_stages):
        def valid(stages):
            stages = stage_list(stages)
            return bool(stages) and all(is_int(i) and 0 <= i < n_stages for i in stages)

        self._parameter_constraints = {"stages": [None, Satisfies(
            valid, f"a tuple of stage indices between 0 and {n_stages - 1}")]}


def staged_families():
    """The families of the backbones with feature stages, for messages."""
    return " and ".join(dict.fromkeys(b.family for b in BACKBONES.values() if b.feature_stages))
