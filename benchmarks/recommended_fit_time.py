"""Wall time to train make_recommended_classifier() on all 102 images at 400x400 (2 threads).

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/recommended_fit_time.py
"""
import time, torch
torch.set_num_threads(2)
t0 = time.perf_counter()
from sklearn.pipeline import make_pipeline
from skin_estimators import ChannelNormalizer, ImageLoader, fetch_skin3, make_recommended_classifier, clear_feature_cache
d = fetch_skin3()
clear_feature_cache()
model = make_pipeline(ImageLoader(size=400), ChannelNormalizer(mean="study"), make_recommended_classifier(random_state=0))
t = time.perf_counter(); model.fit(d.filenames, d.target); fit = time.perf_counter() - t
t = time.perf_counter(); model.predict(d.filenames[:20]); pred = time.perf_counter() - t
print(f"fit on 102 images (decode + resize + scattering of 204 images + 22 epochs): {fit:.1f} s; predict 20 images with TTA (cached): {pred:.1f} s; process total {time.perf_counter()-t0:.1f} s")
