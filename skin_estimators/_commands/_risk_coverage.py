"""The risk-coverage picture of ``evaluate`` (and of the trust docs)."""

import numpy as np

from ._figures import _pyplot, _save

__all__ = ["risk_coverage_figure"]


def risk_coverage_figure(curve, point, other, path, title=""):
    """Write ``path`` (PNG): accuracy among answered photos against the share answered.

    Parameters
    ----------
    curve : tuple of ndarray
        ``(coverage, accuracy, thresholds)`` of
        :func:`~skin_estimators.uncertainty.risk_coverage_curve` on the in-scope photos.
    point : tuple of float or None
        ``(share confident, accuracy among confident)``: today's operating point, marked.
    other : tuple or None
        ``(proba, share confident)`` of photos of other conditions: a second panel shows the
        share of them answered at each threshold against the in-scope share answered, with
        their ``confident`` share marked at the operating point.
    """
    plt = _pyplot()
    coverage, accuracy, thresholds = curve
    panels = 2 if other is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.2), squeeze=False)
    ax = axes[0, 0]
    ax.plot(coverage, accuracy, color="C0",
            label="answer when the top calibrated\nprobability reaches a threshold")
    if len(accuracy):
        ax.axhline(accuracy[-1], color="grey", lw=0.8, ls=":",
                   label=f"accuracy of every answer ({accuracy[-1]:.2f})")
    if point is not None and point[0] == point[0] and point[1] == point[1]:
        ax.plot(*point, marker="*", ms=14, color="C3", ls="none",
                label=f"flag confident (today): {100 * point[0]:.0f} % answered,\n"
                      f"{100 * point[1]:.0f} % of them right")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(max(0.0, min([0.3, *accuracy]) - 0.05), 1.02)
    ax.set_xlabel("share of in-scope photos answered (coverage)")
    ax.set_ylabel("accuracy among the answered photos")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    if other is not None:
        proba, share = other
        top = np.asarray(proba, dtype=float).max(axis=1) if len(proba) else np.empty(0)
        answered = np.array([np.mean(top >= t) if len(top) else np.nan for t in thresholds])
        bx = axes[0, 1]
        bx.plot(coverage, answered, color="C1",
                label="same thresholds")
        if point is not None and point[0] == point[0]:
            bx.plot(point[0], share, marker="*", ms=14, color="C3", ls="none",
                    label=f"flag confident (today): {100 * share:.0f} %\nof other-condition "
                          "photos answered")
        bx.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="no separation")
        bx.set_xlim(0, 1.02)
        bx.set_ylim(0, 1.02)
        bx.set_xlabel("share of in-scope photos answered")
        bx.set_ylabel("share of other-condition photos answered")
        bx.legend(fontsize=7, loc="upper left")
        bx.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)
