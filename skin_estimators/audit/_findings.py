"""The audit's conclusions in sentences: what a reader should know before trusting a score."""

__all__ = ["findings", "headline_protocol"]


def headline_protocol(result):
    """The protocol the findings quote: grouped where there are groups (new patients)."""
    return "group" if "group" in result.protocols else "stratified"


def _shortcut_lines(result, protocol):
    flagged = sorted(
        (r for r in result.shortcuts if r["protocol"] == protocol and r["flagged"]),
        key=lambda r: -r["macro_recall"],
    )
    if not flagged:
        return [f"No cheap file property or image statistic tells the classes apart "
                f"(every shortcut baseline is within the margin of chance, "
                f"{result.chance:.2f}, under the {protocol} protocol)."]
    names = ", ".join(f"{r['property']} {r['macro_recall']:.2f}" for r in flagged)
    return [f"SHORTCUT: cheap properties alone classify the images above chance "
            f"({result.chance:.2f}) under the {protocol} protocol: {names} (macro recall of a "
            f"random forest that sees nothing else). A model can score this without looking "
            f"at the disease."]


def _corner_lines(result, protocol):
    lines = []
    for kind in ("uncontrolled", "controlled"):
        rows = [r for r in result.corner_probe if r["inputs"] == kind and r["protocol"] == protocol]
        if not rows:
            continue
        every = next(r for r in rows if r["property"] == "all corners")
        single = max((r for r in rows if r["property"] != "all corners"),
                     key=lambda r: r["macro_recall"])
        what = f"corner probe on {kind} inputs: all corners {every['macro_recall']:.2f}, " \
               f"{single['property'].replace('_', '-')} corner alone " \
               f"{single['macro_recall']:.2f} (chance {every['chance']:.2f}, {protocol})"
        if every["flagged"] or single["flagged"]:
            best_class = max(single["class_recall"], key=single["class_recall"].get)
            lines.append(f"CORNER MARK: {what}: something in the "
                         f"{single['property'].replace('_', '-')} corner (a watermark, frame or "
                         f"ruler?) follows the class; best recognised there: {best_class} "
                         f"(recall {single['class_recall'][best_class]:.2f}). See corners.png.")
        else:
            lines.append(f"No corner mark: {what}.")
    return lines


def _size_lines(result):
    rows = [r for r in result.size_probe if r["protocol"] == headline_protocol(result)]
    if not rows:
        return []
    scores = ", ".join(f"{r['inputs']} inputs {r['macro_recall']:.2f}" for r in rows)
    flagged = [r["inputs"] for r in rows if r["flagged"]]
    verdict = (f"the original resolution still shows in the pixels of the {' and '.join(flagged)}"
               " inputs" if flagged else "within the flag margin of chance")
    return [f"Size probe (from the pixels alone, is the original photo >= 1000 px? "
            f"{result.n_large} of {result.n_images} are): macro recall {scores} (chance 0.50, "
            f"{rows[0]['protocol']}): {verdict}."]


def _duplicate_lines(result):
    near = [d for d in result.duplicates if d["near_duplicate"]]
    if not near:
        return [f"No near-duplicates (closest pair at distance "
                f"{result.duplicates[0]['distance']:.3f}, threshold "
                f"{result.duplicate_threshold:.3f})." if result.duplicates else
                "No pairs to compare."]
    lines = []
    for d in near:
        where = []
        if d["cross_page"]:
            where.append("on different pages/groups: a leak even under grouped CV")
        if d["cross_class"]:
            where.append("in different classes: a label error?")
        lines.append(f"NEAR-DUPLICATE: {d['a']} and {d['b']} (distance {d['distance']:.3f})"
                     + (f", {'; '.join(where)}" if where else ""))
    return lines


def findings(result):
    """One sentence per finding, the alarming ones marked in capitals first."""
    if not result.protocols:
        return [f"No shortcut baseline or probe could be scored ({'; '.join(result.notes)})."] \
            + _duplicate_lines(result)
    protocol = headline_protocol(result)
    lines = (_shortcut_lines(result, protocol) + _corner_lines(result, protocol)
             + _size_lines(result) + _duplicate_lines(result))
    return sorted(lines, key=lambda line: not line.split(":")[0].isupper())
