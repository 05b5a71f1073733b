"""``skin-estimators download-weights``: fetch pretrained weights for later offline use."""

import sys

_MODELS = ("bit", "resnet50")  # the keys of skin_estimators.networks.BACKBONES


def add_parser(subparsers):
    """Register the ``download-weights`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "download-weights",
        help="download pretrained backbone weights into the Hugging Face cache",
        description=(
            "Download the pretrained weights of ResNet50Classifier ('resnet50') and/or "
            "BiTClassifier ('bit') into the Hugging Face hub cache, so that the estimators "
            "work without internet access afterwards. To prepare an offline machine, copy "
            "the cache directory there and point HF_HOME or HF_HUB_CACHE at it."
        ),
    )
    parser.add_argument(
        "models", nargs="*", metavar="MODEL",
        help=f"which weights: {', '.join(_MODELS)} (default: all)",
    )
    parser.add_argument(
        "--cache-dir", default=None,
        help="hub cache directory (default: HF_HUB_CACHE, else $HF_HOME/hub, else "
             "~/.cache/huggingface/hub)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Download each requested model; print one weights path per line. Returns the exit code."""
    from ..networks import BACKBONES, WeightsUnavailableError, download_weights

    models = args.models or sorted(BACKBONES)
    unknown = [m for m in models if m not in BACKBONES]
    if unknown:
        print(f"error: unknown model {', '.join(unknown)}; choose from "
              f"{', '.join(sorted(BACKBONES))}.", file=sys.stderr)
        return 2
    for model in models:
        try:
            path = download_weights(model, cache_dir=args.cache_dir)
        except WeightsUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{model}\t{BACKBONES[model]}\t{path}")
    return 0
