"""Helpers shared by the subcommands: argument types, model loading, files, atomic writes."""

import argparse
import os
import sys

from .._internal import atomic_open
from ..exceptions import CommandError

__all__ = [
    "CommandError", "add_backend_argument", "add_model_arguments", "atomic_open",
    "check_out_outside", "check_output_file", "collect_files", "config_data_folders",
    "data_folders", "display_name",
    "load_cli_data", "load_cli_model", "note_tta", "open_csv", "positive_int",
    "run_reporting_errors", "say", "TTA_HELP",
]


def run_reporting_errors(prog, func, args):
    """``func(args)``'s exit code; every error it raises becomes one line on stderr.

    The one error path of the commands: a :class:`CommandError` exits with its code; a bad
    experiment config (``ConfigError``) is a usage error, exit 2, like bad options; the
    library's other ``ValueError``/``OSError`` (which name the file or parameter and say what
    to do; a traceback would only bury that line) and running out of memory exit 1; Ctrl-C
    exits 130.
    """
    try:
        return func(args)
    except CommandError as exc:
        code, message = exc.code, str(exc)
    except (ValueError, OSError) as exc:
        code, message = (2 if _is_config_error(exc) else 1), str(exc)
    except MemoryError as exc:
        code, message = 1, (f"not enough memory ({exc or 'allocation failed'}): use smaller "
                            "images (image_size), a smaller batch_size or fewer images at a time")
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    if code == 2:
        print(f"usage: {prog} ... (see {prog} --help)", file=sys.stderr)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _is_config_error(exc):
    # experiments (pydantic) is imported only by the commands that read configs; a
    # ConfigError can only come from there.
    experiments = sys.modules.get("skin_estimators.experiments")
    return experiments is not None and isinstance(exc, experiments.ConfigError)


def positive_int(text):
    """argparse type: an integer >= 1 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def say(*args, quiet=False):
    """Print progress information on stderr (stdout is kept for results)."""
    if not quiet:
        print(*args, file=sys.stderr)


def add_model_arguments(parser):
    parser.add_argument("model", metavar="MODEL", help="model file (safe .safetensors or .joblib)")
    parser.add_argument(
        "--trust-pickle", action="store_true",
        help="allow loading a joblib (pickle) model file; unpickling runs code chosen by "
             "whoever wrote the file, so only use it for files you trust",
    )


def add_backend_argument(parser):
    parser.add_argument(
        "--backend", choices=("auto", "torch", "onnxruntime"), default=None,
        help="how the network of frozen pretrained features runs: auto (ONNX Runtime when "
             "installed, else PyTorch), torch or onnxruntime; the same answers within float32 "
             "tolerance (default: as saved in the model file, usually auto)",
    )


def load_cli_model(args, with_metadata=False):
    """Load ``args.model``; a ModelFileError becomes a one-line failure.

    With ``args.backend`` set (``--backend``), the model's frozen-feature steps use it.
    """
    from .._internal import load_model_file
    from ..inference import set_feature_backend
    from ..persistence import ModelFileError

    try:
        model, meta = load_model_file(args.model, trust_pickle=args.trust_pickle)
    except ModelFileError as exc:
        raise CommandError(str(exc)) from None
    backend = getattr(args, "backend", None)
    if backend is not None and not set_feature_backend(model, backend):
        say(f"{args.model} has no frozen pretrained features: --backend {backend} changes "
            "nothing.")
    return (model, meta) if with_metadata else model


TTA_HELP = ("test-time augmentation: average over each image and its left-right mirror "
            "image (a model that already does, such as the recommended one, says so and "
            "predicts as without it)")


def note_tta(args, model):
    """One line on stderr when ``--tta`` is asked of a model that already averages each
    image with its mirror image (the predictions are then the same with or without it)."""
    from ..inference import averages_mirror

    if getattr(args, "tta", False) and averages_mirror(model):
        say(f"--tta: {args.model} already averages each image with its mirror image (frozen "
            "features with mirror=True, or tta='hflip'); the predictions are those.",
            quiet=getattr(args, "quiet", False))


def load_cli_data(data, groups="atlas_page"):
    """``DATA`` of a command: ``"skin3"`` (fetch_skin3), ``"sd198"`` (fetch_sd198's three
    diseases) or a class-per-folder path."""
    from ..datasets import fetch_sd198, fetch_skin3, load_image_folder

    try:
        if data == "skin3":
            return fetch_skin3()
        if data == "sd198":
            return fetch_sd198("diseases")
        return load_image_folder(data, groups=groups)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None


def collect_files(paths):
    """Expand folders (recursively, sorted, hidden entries skipped); keep files as given.

    Folders are listed with the library's one listing function
    (:func:`~skin_estimators.utils._image_files.scan_folder`, as
    :func:`~skin_estimators.datasets.load_image_folder` does): links are followed, a link to
    a folder is searched like a folder, and anything else (a file, a broken link, a link
    that loops, a FIFO) is an input that gets its own row, with its reason when it cannot be
    read. Each real folder is searched once, so a link back to a folder above it (a loop)
    ends the search there, with a warning. A path that does not exist is kept too: it gets
    its own "file not found" row, so that every input the user named is accounted for.
    """
    from .._internal import entry_kind, scan_folder

    def walk(folder, seen, found):
        try:
            entries = [e for e in scan_folder(folder) if not e[0].startswith(".")]
        except OSError as exc:
            print(f"warning: skipped {folder!r}: it cannot be listed ({exc.strerror or exc})",
                  file=sys.stderr)
            return
        # A folder's own files first, then its sub-folders, each in name order.
        found += [path for _, path, kind in entries if kind != "folder"]
        for _, path, kind in entries:
            if kind != "folder":
                continue
            real = os.path.realpath(path)
            if real in seen:
                print(f"warning: skipped {path!r}: it leads to {real!r}, a folder already "
                      "searched", file=sys.stderr)
                continue
            seen.add(real)
            walk(path, seen, found)

    files = []
    for path in paths:
        path = os.fspath(path)
        if entry_kind(path) == "folder":
            found = []
            walk(path, {os.path.realpath(path)}, found)
            if not found:
                print(f"warning: no files in folder {path!r}", file=sys.stderr)
            files += found
        else:
            files.append(path)
    return files


def check_output_file(out, inputs, option="--out"):
    """Refuse an output file that is a folder, lacks its folder, or would replace an input.

    ``inputs`` are every file the command reads (the model file, the images): writing the
    output over one of them would destroy it (``predict model photo.jpg --out photo.jpg``).
    """
    out = os.fspath(out)
    if os.path.isdir(out):
        raise CommandError(f"{option} {out!r} is a folder; give a file name inside it, e.g. "
                           f"{os.path.join(out, 'predictions.csv')!r}", code=2)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise CommandError(f"the folder of {option} {out!r} does not exist: create it first",
                           code=2)
    if os.path.exists(out):
        for path in inputs:
            try:
                same = os.path.samefile(out, path)
            except OSError:  # an input that does not exist gets its own error row
                continue
            if same:
                raise CommandError(f"{option} {out!r} is one of the inputs ({os.fspath(path)!r}); "
                                   "writing to it would destroy it: choose another file", code=2)


def data_folders(data, loaded):
    """The folders a command reads ``DATA`` from: the data folder and each class folder.

    ``data`` is the DATA argument (a path, ``"skin3"`` or ``"sd198"``), ``loaded`` what
    :func:`load_cli_data` returned. A class folder may be a link to a folder elsewhere.
    """
    class_folders = sorted({os.path.dirname(os.fspath(f)) for f in loaded.filenames})
    if data in ("skin3", "sd198"):
        root = os.path.commonpath([os.path.dirname(f) for f in class_folders])
    else:
        root = os.fspath(data)
    return [root, *class_folders]


def config_data_folders(config):
    """The folders a config's ``data: {path: ...}`` reads: the data folder and each class
    folder (links followed, as :func:`~skin_estimators.datasets.load_image_folder` follows
    them). Empty for ``fetch_skin3``, whose folder is the library's own data home."""
    from .._internal import scan_folder

    root = config.data_root()
    if root is None:
        return []
    try:
        entries = scan_folder(root)
    except OSError:  # listed (and reported) by the command's own loading
        return [root]
    return [root, *(path for name, path, kind in entries
                    if kind == "folder" and not name.startswith("."))]


def check_out_outside(out, folders, option="--out", what="the data folder"):
    """Refuse an output path that is, or lies inside, one of the folders a command reads.

    What a command writes there would be read back as input by the next run on that folder
    (a picture as one more photo of a class, a new folder as an unknown class). Links and
    relative paths are resolved first (``os.path.realpath``), so another name for the same
    folder is refused too. The error is a usage error (exit 2).
    """
    real_out = os.path.realpath(os.fspath(out))
    for folder in folders:
        real = os.path.realpath(os.fspath(folder))
        if os.path.commonpath([real_out, real]) == real:
            raise CommandError(
                f"{option} {os.fspath(out)!r} lies inside {what} {os.fspath(folder)!r}: the "
                "next run would read what this one writes there as input; choose "
                f"{option} outside it", code=2)


def open_csv(path):
    """Write a CSV atomically; file names that are not valid UTF-8 are kept byte for byte.

    File names on Linux are bytes; Python shows undecodable bytes as lone surrogates
    (``os.fsdecode``). Writing them with ``errors="surrogateescape"`` puts the original bytes
    back, so the CSV names exactly the file on disk (read it back with the same error
    handler, e.g. ``pandas.read_csv(..., encoding_errors="surrogateescape")``).
    """
    return atomic_open(path, "w", newline="", encoding="utf-8", errors="surrogateescape")


def display_name(path):
    """A printable form of a file name (undecodable bytes shown as ``\\xNN``)."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")
