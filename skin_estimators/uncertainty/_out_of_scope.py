"""Out-of-scope scores on a model's features: Mahalanobis distance, k-nearest-neighbour
distance and maximum probability.

The Mahalanobis score (Lee et al. 2018) is the squared distance to the nearest class mean
under one covariance shared by the classes, estimated with scikit-learn's Ledoit-Wolf
shrinkage on the within-class residuals. With more features than images (2024 features of
about a hundred photos) the shrunk covariance ``a I + V diag(lam) V^T`` has a low-rank part
spanned by the residuals, so it is kept in that form: the class means, the ``r`` right
singular vectors, their ``r`` variances and the floor ``a``; the inverse follows from the
Woodbury identity. That keeps the model file small (``r x d`` numbers instead of ``d x d``)
and is exactly scikit-learn's ``LedoitWolf(assume_centered=True)`` covariance.

The k-nearest-neighbour score (Sun et al. 2022) is the Euclidean distance of the L2-normalised
features to the k-th nearest L2-normalised training feature vector (scikit-learn's
``NearestNeighbors``); it needs no class model and no covariance, only the training features.
"""

import numpy as np

__all__ = ["KNN_NEIGHBORS", "fit_knn", "fit_mahalanobis", "knn_score", "mahalanobis_score",
           "max_proba_score"]

#: The k of the k-nearest-neighbour score.
KNN_NEIGHBORS = 5


def fit_mahalanobis(features, y_enc, n_classes):
    """Class means and the shared Ledoit-Wolf covariance in low-rank form.

    Returns
    -------
    means : ndarray of shape (n_classes, n_features)
    basis : ndarray of shape (r, n_features)
        Orthonormal directions of the residuals.
    variances : ndarray of shape (r,)
        The shrunk covariance's excess variance along each direction.
    floor : float
        The shrunk covariance's variance in every direction (``a``).
    """
    from sklearn.covariance import ledoit_wolf_shrinkage

    features = np.asarray(features, dtype=float)
    means = np.stack([features[y_enc == k].mean(axis=0) for k in range(n_classes)])
    residuals = features - means[y_enc]
    n, d = residuals.shape
    shrinkage = float(ledoit_wolf_shrinkage(residuals, assume_centered=True))
    _, singular, basis = np.linalg.svd(residuals, full_matrices=False)
    eigen = singular ** 2 / n  # the empirical covariance's nonzero eigenvalues
    mu = float(eigen.sum() / d)  # its trace over d
    # Without within-class variation (one image a class) the covariance is the identity
    # (Euclidean distance); a floor far below the other variances would overflow the score.
    floor = max(shrinkage * mu, 1e-12 * mu) if mu > 0 else 1.0
    keep = eigen > eigen.max(initial=0.0) * 1e-12
    return means, basis[keep], (1.0 - shrinkage) * eigen[keep], floor


def mahalanobis_score(features, means, basis, variances, floor):
    """Squared Mahalanobis distance of each row to its nearest class mean."""
    features = np.asarray(features, dtype=float)
    best = np.full(len(features), np.inf)
    weight = variances / (floor * (floor + variances))  # Woodbury: (aI + VLV')^-1
    for mean in means:
        z = features - mean
        proj = z @ basis.T
        dist = (z * z).sum(axis=1) / floor - (proj * proj) @ weight
        best = np.minimum(best, dist)
    return best


def max_proba_score(proba):
    """One minus the largest probability: the baseline out-of-scope score."""
    return 1.0 - np.asarray(proba).max(axis=1)


def _unit_rows(features):
    features = np.asarray(features, dtype=float)
    norm = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norm > 0, norm, 1.0)


def fit_knn(features):
    """The reference of the k-nearest-neighbour score: the L2-normalised training features."""
    return _unit_rows(features)


def knn_score(features, reference, n_neighbors=KNN_NEIGHBORS):
    """Distance of each L2-normalised row to its ``n_neighbors``-th nearest reference row.

    With fewer reference rows than ``n_neighbors`` the farthest one is used.
    """
    from sklearn.neighbors import NearestNeighbors
    from threadpoolctl import threadpool_limits

    k = int(min(n_neighbors, len(reference)))
    nn = NearestNeighbors(n_neighbors=k).fit(reference)
    # One OpenMP thread: the reference set is a training set of photos (hundreds of rows), so
    # starting threads costs more than it saves (25x on a busy 2-core machine); the
    # distances do not depend on the thread count.
    with threadpool_limits(limits=1, user_api="openmp"):
        return nn.kneighbors(_unit_rows(features))[0][:, -1]
