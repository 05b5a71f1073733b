"""``skin-estimators explain MODEL IMAGE... --out DIR``: saliency overlays for clinicians."""

import argparse

from ._common import (
    CommandError,
    add_model_arguments,
    check_out_outside,
    check_output_file,
    collect_files,
    load_cli_model,
    open_csv,
    positive_int,
    say,
)

DESCRIPTION = """\
Show which region of each photograph drove its prediction. Writes, per input image, a PNG
of the same size with a saliency map drawn over it (<name>_saliency.png), and
explanations.csv (image_path, overlay_path, pred_class, probability, method, error).

Method: Grad-CAM on the last convolution layer for the convolutional networks (CNN,
ResNet-50, BiT), gradient saliency |d logit / d pixel| for the scattering network
('--method auto'); the map explains the predicted class. For frozen pretrained features
followed by a linear classifier (the recommended model, also inside its trust layer):
Grad-CAM on the backbone's last feature stage through the features, the scaler and the
linear head (whose logits it reproduces). A model that cannot be explained (e.g. a random
forest on the features) is refused in one line, exit 2, before anything is written.

Exit status: 0 if every image was explained, 1 if any could not be read, 2 for a usage error.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "explain", help="saliency overlays showing which region drove each prediction",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  skin-estimators explain runs/cnn/model.safetensors photo1.jpg "
               "photo2.jpg --out explanations/\n",
    )
    add_model_arguments(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--method", choices=["auto", "gradcam", "gradient"], default="auto",
                   help="saliency method (default: auto, by architecture)")
    p.add_argument("--batch-size", type=positive_int, default=8,
                   help="images processed at a time (default: 8)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args):
    import csv
    import os

    from ..explain import explain_images, explainer

    files = collect_files(args.images)
    if not files:
        raise CommandError("no images to explain: the folders given are empty")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out!r} exists and is not a folder: give a folder",
                           code=2)
    table = os.path.join(args.out, "explanations.csv")
    if os.path.isdir(args.out):
        check_output_file(table, [args.model, *files])
    check_out_outside(args.out, [p for p in args.images if os.path.isdir(p)],
                      what="the folder given as IMAGE")
    model = load_cli_model(args)
    try:
        explainer(model)
    except ValueError as exc:  # before anything is written
        raise CommandError(str(exc), code=2) from None
    existed = os.path.isdir(args.out)
    try:
        records = explain_images(model, files, args.out, method=args.method,
                                 batch_size=args.batch_size, progress=not args.quiet)
    except BaseException as exc:
        if not existed:  # no empty output folder left behind
            try:
                os.rmdir(args.out)
            except OSError:
                pass
        if isinstance(exc, ValueError):
            raise CommandError(str(exc)) from None
        raise
    fields = ["image_path", "overlay_path", "pred_class", "probability", "method", "error"]
    with open_csv(table) as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for rec in records:
            writer.writerow({k: "" if rec[k] is None else rec[k] for k in fields})
    n_bad = sum(r["error"] is not None for r in records)
    say(f"Wrote {len(records) - n_bad} overlays to {args.out}"
        + (f"; {n_bad} images could not be read (see explanations.csv)." if n_bad else "."),
        quiet=args.quiet)
    return 1 if n_bad else 0
