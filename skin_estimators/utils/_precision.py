"""Mixed precision: which autocast dtype a ``precision`` parameter stands for on a device."""

import torch

__all__ = ["PRECISIONS", "autocast_dtype"]

#: Accepted values; "32" is a synonym of "fp32".
PRECISIONS = ("auto", "fp32", "32", "bf16", "fp16")


def autocast_dtype(precision, device):
    """The dtype to autocast to on ``device``, or None for plain float32.

    ``"auto"`` is resolved where the model runs, so a model trained in bfloat16 on a GPU
    predicts in float32 on a CPU-only machine. Explicit ``"bf16"``/``"fp16"`` also apply on
    the CPU (bf16 is fast on CPUs with AMX/AVX512-BF16; fp16 is mainly for GPUs).
    """
    kind = torch.device(device if device is not None else "cpu").type
    if precision == "auto":
        if kind != "cuda":
            return None
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if bf16 else torch.float16
    if precision in ("fp32", "32"):
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
