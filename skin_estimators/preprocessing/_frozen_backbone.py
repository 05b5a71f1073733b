"""Building the frozen network of :class:`PretrainedFeatures` (the architecture, its weights)."""

__all__ = ["build_backbone"]


def build_backbone(kind, tag, model, pretrained, seeded=True):
    """The network ``tag`` of builder ``kind`` without its head, in eval mode, on the CPU.

    ``kind`` is ``"efficientnet_lite"`` or ``"timm"``; ``model`` names it in messages.
    ``pretrained=False`` gives random weights, always the same ones with ``seeded`` (torch
    seed 0, the caller's random stream untouched): every fit of a cross-validation then sees
    the same features, and the feature cache serves them. Unseeded is for a model file,
    which overwrites the weights (``manual_seed`` would also make torch record the caller's
    stack for CUDA, reading source files).
    """
    import torch

    from ..networks import create_backbone, create_efficientnet_lite

    build = create_efficientnet_lite if kind == "efficientnet_lite" else create_backbone
    with torch.random.fork_rng(devices=[]):
        if seeded:
            torch.manual_seed(0)
        # n_classes=0: timm drops the head and returns the globally pooled features.
        return build(tag=tag, n_classes=0, pretrained=pretrained,
                     owner=f"PretrainedFeatures({model!r})").eval()
