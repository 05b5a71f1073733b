"""The feature alignments a :class:`DomainAdapter` fits, each from skada.

Every method is fitted on the training (source) features and the new clinic's (target)
features together, without any target label, and gives two things:

- the map applied to target features at prediction time, always affine,
  ``((x - offset) / scale) @ components`` (``components`` None: no projection);
- the source features as the classifier after the adapter must be retrained on.

``"standardize"``: each domain standardised with its own mean and standard deviation
(skada's ``PerDomain(StandardScaler())``). ``"coral"``: the source whitened by its own
covariance and re-coloured by the target's (Sun et al. 2016; skada's ``CORALAdapter``,
Ledoit-Wolf shrinkage), both centred on their own means. ``"subspace"``: the source's
principal subspace aligned to the target's (Fernando et al. 2013; skada's
``SubspaceAlignmentAdapter``). ``"ot"``: every source feature moved to its barycentric image
under the exact optimal transport plan onto the target features (Courty et al. 2017; skada's
``OTMappingAdapter``); the target is left as it is.
"""

import contextlib

import numpy as np

__all__ = ["METHODS", "fit_alignment"]

#: The alignment methods, by name.
METHODS = ("standardize", "coral", "subspace", "ot")


def _domains(source, target):
    X = np.vstack([source, target]).astype(np.float64)
    domain = np.r_[np.ones(len(source), dtype=int), -np.ones(len(target), dtype=int)]
    return X, domain


@contextlib.contextmanager
def _skada():
    """skada, with scikit-learn's metadata routing on only inside the block.

    Importing skada turns scikit-learn's global ``enable_metadata_routing`` on, which makes
    every later ``Pipeline.fit(..., step__param=...)`` of the process fail; the import is
    undone here and routing enabled only while skada's estimators run.
    """
    import sklearn

    routing = sklearn.get_config()["enable_metadata_routing"]
    try:
        import skada
    finally:
        sklearn.set_config(enable_metadata_routing=routing)
    with sklearn.config_context(enable_metadata_routing=True):
        yield skada


def fit_alignment(method, source, target, n_components=None):
    """Fit ``method`` on ``source`` and ``target`` features (2-D arrays, no labels).

    Parameters
    ----------
    method : {"standardize", "coral", "subspace", "ot"}
    source, target : ndarray of shape (n_source, n_features), (n_target, n_features)
    n_components : int or None
        The subspace dimension of ``"subspace"`` (None: half the smaller domain's size).

    Returns
    -------
    offset, scale : ndarray of shape (n_features,)
    components : ndarray of shape (n_features, n_components) or None
    adapted_source : ndarray of shape (n_source, n_features_out)
    """
    if method not in METHODS:
        raise ValueError(f"fit_alignment: method must be one of {', '.join(METHODS)}, "
                         f"got {method!r}.")
    with _skada() as skada:
        return _fit(skada, method, source, target, n_components)


def _fit(skada, method, source, target, n_components):
    X, domain = _domains(source, target)
    n_source, d = source.shape
    zeros, ones = np.zeros(d), np.ones(d)
    if method == "standardize":
        from sklearn.preprocessing import StandardScaler

        per_domain = skada.PerDomain(StandardScaler())
        per_domain.fit(X, None, sample_domain=domain)
        target_scaler = per_domain.get_estimator(-1)
        adapted = per_domain.get_estimator(1).transform(X[:n_source])
        return target_scaler.mean_, target_scaler.scale_, None, adapted
    if method == "coral":
        coral = skada.CORALAdapter(reg="auto")
        adapted = coral.fit_transform(X, sample_domain=domain)[:n_source]
        return coral.mean_target_, ones, None, adapted
    if method == "subspace":
        k = n_components or max(1, min(n_source, len(target)) // 2)
        k = min(k, n_source, len(target), d)
        sa = skada.SubspaceAlignmentAdapter(n_components=k, random_state=0)
        adapted = sa.fit_transform(X, sample_domain=domain)[:n_source]
        pca = sa.pca_target_
        return pca.mean_, ones, pca.components_.T.copy(), adapted
    ot = skada.OTMappingAdapter()
    adapted = ot.fit_transform(X, sample_domain=domain)[:n_source]
    return zeros, ones, None, adapted
