"""Fit and predict times of the library's linear probe on EfficientNet-Lite0 features (issue 13).

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/screening/pretrained_features_time.py
The pipeline is the library's own (ImageLoader stretches to 224x224, not the controlled inputs of
effnet_controlled.py): the point is the time, cold (every cache empty) and warm.
"""
import time

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import (ChannelNormalizer, ImageLoader, PretrainedFeatures,
                             clear_feature_cache, fetch_skin3)
from skin_estimators.preprocessing import clear_image_cache

data = fetch_skin3()
X, y, groups = data.filenames, data.target, data.groups


def pipe():
    return make_pipeline(ImageLoader(size=224), ChannelNormalizer(mean="efficientnet_lite"),
                         PretrainedFeatures("efficientnet_lite0", stages=(2, 3, 4, 5, 6)),
                         StandardScaler(),
                         LogisticRegression(C=0.01, class_weight="balanced", max_iter=5000))


clear_feature_cache(), clear_image_cache()
t = time.time()
model = pipe().fit(X, y)
print(f"fit on all {len(X)} images, cold: {time.time() - t:.1f} s")
clear_feature_cache(), clear_image_cache()
t = time.time()
model.predict(X[:10])
print(f"predict 10 images, cold: {time.time() - t:.2f} s")
t = time.time()
model.predict(X[:10])
print(f"predict 10 images, cached: {time.time() - t:.2f} s")
cv = StratifiedGroupKFold(5, shuffle=True, random_state=0)
for run in ("cold (computes the features once)", "warm (features cached)"):
    if run.startswith("cold"):
        clear_feature_cache(), clear_image_cache()
    t = time.time()
    scores = cross_val_score(pipe(), X, y, groups=groups, cv=cv, scoring="balanced_accuracy")
    print(f"5-fold grouped CV, {run}: {time.time() - t:.1f} s (macro recall {scores.mean():.3f})")
