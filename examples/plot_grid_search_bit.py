"""
Searching BiT's hyperparameters with GridSearchCV
=================================================

The estimators are scikit-learn estimators, so scikit-learn's searches work on them
unchanged: :class:`~sklearn.model_selection.GridSearchCV` clones the estimator for each
candidate, sets the parameters, fits it on each training fold and keeps the best. This
example searches the learning rate and batch size of :class:`~skin_estimators.BiTClassifier`,
the study's best model.

To run in well under a minute on a CPU, without downloading anything, it uses
``pretrained=False`` (the BiT architecture with random weights, so the scores below are
near chance and say nothing about BiT), 32x32 images, a subset of 30 images and one epoch.
**For the full-size run**, as in the study: ``pretrained=True`` (the ImageNet-21k weights,
see :ref:`pretrained_weights`), ``IMAGE_SIZE = 400``, all 102 images, 5 folds, the study's
``max_epochs=22`` and a grid around its best setting (``lr`` 0.0011 to 0.0031, ``batch_size``
4 to 16), on a GPU: BiT has 42 million parameters.
"""

# %%
# Images as arrays
# ----------------
# BiT was pretrained on images normalised to [-1, 1] (mean and std 0.5 for every channel).
# Fixed statistics learn nothing from the data, so the images can be loaded and normalised
# once, outside the search, without leaking anything between folds.
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from skin_estimators import BiTClassifier, ChannelNormalizer, ImageLoader, fetch_skin3

IMAGE_SIZE = 32
IMAGES_PER_CLASS = 10

data = fetch_skin3()
rng = np.random.RandomState(0)
subset = np.concatenate(
    [
        rng.choice(np.flatnonzero(data.target == c), IMAGES_PER_CLASS, replace=False)
        for c in data.target_names
    ]
)
images = ImageLoader(size=IMAGE_SIZE).fit_transform(data.filenames[subset])
X = ChannelNormalizer(mean="bit").fit_transform(images)
y, groups = data.target[subset], data.groups[subset]
print(X.shape, X.dtype)

# %%
# The search
# ----------
# Two learning rates times two batch sizes, each cross-validated on folds that keep the
# photographs of one atlas page together, scored by macro recall as in the study.
search = GridSearchCV(
    BiTClassifier(pretrained=False, max_epochs=1, random_state=0),
    param_grid={"lr": [0.001, 0.003], "batch_size": [4, 8]},
    cv=StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=42),
    scoring="recall_macro",
)
search.fit(X, y, groups=groups)

# %%
# The results
# -----------
# ``cv_results_`` holds every candidate's scores and times, as for any scikit-learn
# estimator; ``best_estimator_`` is refitted on all the data with the best parameters.
res = search.cv_results_
for params, mean, std, fit_time in zip(
    res["params"],
    res["mean_test_score"],
    res["std_test_score"],
    res["mean_fit_time"],
    strict=True,
):
    print(f"{params}  macro recall {mean:.3f} ± {std:.3f}  ({fit_time:.1f} s per fit)")
print("best:", search.best_params_)
print("classes:", search.best_estimator_.classes_)

# %%
# The best score of a search is optimistic: it is the maximum over the candidates, partly
# chosen by luck on these folds. Report the chosen setting on other splits, or run the
# search inside an outer cross-validation (nested cross-validation, see
# :ref:`cross_validation`).
