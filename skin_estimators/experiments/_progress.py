"""One progress bar over rows x folds x epochs, with an ETA (tqdm)."""

from skorch.callbacks import Callback

__all__ = ["EpochTicker", "make_bar"]


class EpochTicker(Callback):
    """A skorch callback that moves a progress bar by one at the end of each epoch.

    The bar is not pickled (nor deep-copied): a saved model carries no terminal state.
    """

    def __init__(self, bar=None):
        self.bar = bar

    def on_epoch_end(self, net, **kwargs):
        if self.bar is not None:
            self.bar.update(1)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["bar"] = None
        return state


def make_bar(total, enabled=True):
    """A tqdm bar counting epochs (``enabled=False``: a silent stand-in with the same methods)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", disable=not enabled, dynamic_ncols=True,
                smoothing=0.05, desc="cv")
