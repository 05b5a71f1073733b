"""
Saving a model, loading it and predicting new images
====================================================

After cross-validation has chosen a model, the study trained it on a stratified 80/20
split, checked it on the held-out images and kept it. This example does the same, saves the
fitted pipeline with :func:`~skin_estimators.save_model`, loads it back with
:func:`~skin_estimators.load_model` and predicts image files with it, as a colleague
receiving the file would.

The default file format is the *safe* one: weights and a JSON description, loaded without
running any code from the file. joblib files (scikit-learn's convention) are pickles, which
run code when loaded, so loading one requires ``trust_pickle=True`` (see
:ref:`model_files`).

To run quickly on a CPU the images are reduced to 48x48 pixels and the CNN is trained for
20 epochs with a larger learning rate than the study's. **For the full-size run**: ``IMAGE_SIZE = 400`` and ``VanillaCNNClassifier()``
with its defaults (the study's setting), or the model your cross-validation chose.
"""

# %%
# Train on 82 images, test on 20
# ------------------------------
import tempfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    ModelFileError,
    VanillaCNNClassifier,
    fetch_skin3,
    load_model,
    save_model,
)
from skin_estimators.metrics import clinical_report

IMAGE_SIZE = 48

data = fetch_skin3()
X_train, X_test, y_train, y_test = train_test_split(
    data.filenames, data.target, test_size=20, stratify=data.target, random_state=42
)
model = make_pipeline(
    ImageLoader(size=IMAGE_SIZE),
    ChannelNormalizer(),
    VanillaCNNClassifier(max_epochs=20, lr=0.001, random_state=0),
)
model.fit(X_train, y_train)
print(f"{len(X_train)} training images, {len(X_test)} test images")
print(clinical_report(y_test, model.predict(X_test)))

# %%
# Save it
# -------
# The whole pipeline goes into one file: the loader's image size, the normaliser's learned
# statistics, the network's weights and its classes.
folder = Path(tempfile.mkdtemp())
path = folder / "cnn.safetensors"
save_model(model, path)
print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB")

# %%
# Load it and predict files
# -------------------------
# The loaded pipeline takes image paths and returns the original class names.
loaded = load_model(path)
proba = loaded.predict_proba(X_test)
print("same probabilities:", np.allclose(proba, model.predict_proba(X_test)))
for filename, label, p in list(zip(X_test, loaded.predict(X_test), proba.max(axis=1), strict=True))[
    :5
]:
    print(f"{Path(filename).name:20s} {label:15s} {p:.2f}")

# %%
# joblib files need trust
# -----------------------
# A joblib file can hold any Python object, and loading it runs code that its author chose.
joblib_path = folder / "cnn.joblib"
save_model(model, joblib_path, format="joblib")
try:
    load_model(joblib_path)
except ModelFileError as error:
    print(error)
loaded = load_model(joblib_path, trust_pickle=True)  # a file we wrote ourselves
print("joblib model classes:", loaded.classes_)
