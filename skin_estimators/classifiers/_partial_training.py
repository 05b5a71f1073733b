"""Train only the last stages of an EfficientNet-Lite: freeze the stem and the early stages.

timm's EfficientNet is ``conv_stem -> bn1 -> blocks[0..6] -> conv_head -> bn2 -> classifier``.
Training the last ``k`` blocks means every parameter before ``blocks[7 - k]`` keeps its
ImageNet value (``requires_grad=False``, so the optimiser never sees it) and every BatchNorm
there keeps its running statistics (eval mode while training), so the early features are
exactly the pretrained ones.
"""

from ..networks._timm_backbones import set_norm_eval

#: The number of stages (``blocks``) of an EfficientNet-Lite.
N_STAGES = 7


def _early_modules(model, trainable_stages):
    first_trained = N_STAGES - trainable_stages
    return [model.conv_stem, model.bn1, *model.blocks[:first_trained]]


def freeze_early_stages(model, trainable_stages):
    """Make the stem and all but the last ``trainable_stages`` blocks untrainable."""
    for module in _early_modules(model, trainable_stages):
        for param in module.parameters():
            param.requires_grad_(False)
    return model


def set_early_norm_eval(model, trainable_stages):
    """Put the frozen part's BatchNorm layers in eval mode (their statistics stay put)."""
    set_norm_eval(m for part in _early_modules(model, trainable_stages) for m in part.modules())
    return model
