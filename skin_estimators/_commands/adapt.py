"""``skin-estimators adapt MODEL FOLDER --out ADAPTED``: adapt a model to a clinic's photos."""

import argparse

from ._common import (
    CommandError,
    add_model_arguments,
    check_output_file,
    collect_files,
    load_cli_model,
    say,
)

DESCRIPTION = """\
Adapt a trained model to a new clinic from the clinic's own photos, without their labels,
and write the adapted model as a new safe model file. The photos are found recursively in
FOLDER; their names and sub-folders are ignored (only their contents count, so renaming or
reordering them gives the same adapter). The model's adaptation step aligns the features of
these photos with the training ones (--method) and the classifier, its calibration,
prediction sets and out-of-scope reference are refitted on the training features as
aligned. Adapting an adapted file replaces its adaptation; it never stacks. 'info' says what
a file was adapted to; 'predict' and 'evaluate' use the adapted file like any other.

Needs at least 40 photos. Only models with an adaptation step (the recommended model,
trained from benchmarks/configs/best.yaml) can be adapted; for others the command stops
with exit status 2.
"""

EXAMPLE = """\
example:
  skin-estimators adapt runs/best/model.safetensors clinic_photos/ --out clinic.safetensors
"""


#: ``skin_estimators.adaptation.METHODS``, written out so that ``--help`` imports nothing
#: heavy (a test checks they agree).
METHODS = ("standardize", "coral", "subspace", "ot")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "adapt", help="adapt a model to a clinic's unlabelled photos (writes a new model file)",
        description=DESCRIPTION, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    p.add_argument("folder", metavar="FOLDER", help="folder of the clinic's photos (searched "
                                                    "recursively; no labels needed)")
    p.add_argument("--out", required=True, metavar="ADAPTED",
                   help="the adapted model file to write (.safetensors)")
    p.add_argument("--method", choices=METHODS, default=None,
                   help="the alignment (default: the model's, standardize)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    p.set_defaults(func=run)


def image_files(folder):
    """The image files under ``folder`` (recursively), by extension."""
    import os

    from ..datasets import IMAGE_EXTENSIONS

    if not os.path.isdir(folder):
        raise CommandError(f"FOLDER {folder!r} is not a folder: give the folder of the "
                           "clinic's photos", code=2)
    return [f for f in collect_files([folder])
            if os.path.splitext(f)[1][1:].lower() in IMAGE_EXTENSIONS]


def adapt_to_files(model, files, method=None):
    """``adapt_model`` on image files: the photos identified by their contents.

    Files that cannot be read as images are left out, and named on stderr; the photos left
    must still be enough.
    """
    from ..adaptation import AdaptationError, adapt_model, adapter_of, file_keys
    from ..preprocessing import ImageLoadError

    adapter = adapter_of(model)
    if adapter is None:
        raise CommandError("this model has no adaptation step (DomainAdapter): only models "
                           "trained with one, as benchmarks/configs/best.yaml trains, can be "
                           "adapted", code=2)
    files = list(files)
    for attempt in range(2):
        if len(files) < adapter.min_target:
            raise CommandError(f"adapting needs at least {adapter.min_target} photos of the "
                               f"clinic, the folder has {len(files)} readable: the feature "
                               "statistics it aligns are too noisy from fewer", code=2)
        try:
            return adapt_model(model, files, method=method, keys=file_keys(files))
        except AdaptationError as exc:
            raise CommandError(str(exc), code=2) from None
        except ImageLoadError as exc:
            if attempt:
                raise CommandError(str(exc).splitlines()[0]) from None
            bad = {name for name, _ in exc.errors}
            for name, reason in exc.errors:
                say(f"warning: left out {name}: {reason}")
            files = [f for f in files if f not in bad]
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None


def run(args):
    from ..adaptation import adapter_of
    from ..persistence import save_model

    files = image_files(args.folder)
    check_output_file(args.out, [args.model, *files])
    model, meta = load_cli_model(args, with_metadata=True)
    adapted = adapt_to_files(model, files, args.method)
    adapter = adapter_of(adapted)
    metadata = dict(meta.get("metadata") or {})
    metadata["adaptation"] = {"n_photos": adapter.n_target_, "method": adapter.method,
                              "photos_sha256": adapter.target_digest_}
    save_model(adapted, args.out, metadata=metadata)
    say(f"Adapted to {adapter.n_target_} photos ({adapter.method}; photos digest "
        f"{adapter.target_digest_[:12]}); written to {args.out}", quiet=args.quiet)
    return 0
