"""Building the frozen network of :class:`PretrainedFeatures` (the architecture, its weights)."""

__all__ = ["build_backbone"]


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
