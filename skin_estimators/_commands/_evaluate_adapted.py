"""``evaluate --adapt``: adapt the model to the evaluated photos' pixels (never their labels),
score again into ``DIR/adapted`` and compare."""

import argparse
import os

from ._common import CommandError

__all__ = ["check_adaptable", "evaluate_adapted"]


def check_adaptable(model):
    """Stop before anything is computed when ``model`` has no adaptation step."""
    from ..adaptation import adapter_of

    if adapter_of(model) is None:
        raise CommandError("--adapt: this model has no adaptation step (DomainAdapter): "
                           "only models trained with one, as benchmarks/configs/best.yaml "
                           "trains, can be adapted", code=2)


def evaluate_adapted(args, model, meta, data, result, other, write_results):
    """Adapt to the readable photos' pixels, write the adapted run's files with
    ``write_results`` into DIR/adapted; the with-and-without lines for report.txt."""
    from ..adaptation import adapter_of
    from ..audit import evaluate_model
    from .adapt import adapt_to_files

    files = [f for f, e in zip(data.filenames, result.errors, strict=True) if e is None]
    adapted = adapt_to_files(model, files, args.method)
    try:
        after = evaluate_model(adapted, data.filenames, data.target,
                               batch_size=args.batch_size, tta=args.tta,
                               progress=not args.quiet)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    out = os.path.join(args.out, "adapted")
    write_results(argparse.Namespace(**{**vars(args), "out": out}), adapted, meta, after, "",
                  other)
    adapter = adapter_of(adapted)
    return (f"\nWith and without adaptation ({adapter.method}, fitted on the pixels of these "
            f"{adapter.n_target_} photos, not their labels; files in {out}):\n"
            f"  without: {_line(result)}\n  adapted: {_line(after)}\n")


def _line(result):
    text = f"macro recall {result.macro_recall:.3f}, accuracy {result.accuracy:.3f}"
    if result.trust is None:
        return text
    return text + ", " + ", ".join(f"{flag} {share:.2f}"
                                   for flag, share in _flag_shares(result).items())


def _flag_shares(result):
    import numpy as np

    flags = np.asarray(result.trust.flags)[[e is None for e in result.errors]]
    return {flag: float(np.mean(flags == flag))
            for flag in ("confident", "uncertain", "out_of_scope")}
