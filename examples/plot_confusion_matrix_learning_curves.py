"""
Confusion matrix and learning curves
====================================

Two pictures tell most of what a trained classifier does. The *confusion matrix* shows which
diseases it mistakes for which. The *learning curves*, the loss on the training and on
held-out images after each epoch, show whether training has converged, stopped too early or
started to overfit. The estimators are skorch networks, which record every epoch's figures
in ``history_``.

This example holds out 20 of the 102 images for testing, as the study did for its final model,
and trains the CNN with skorch's internal validation split on part of the training images to
get a validation loss per epoch. To run quickly on a CPU the images are reduced to 48x48
pixels and training lasts 30 epochs with a larger learning rate than the study's. **For the full-size run**: ``IMAGE_SIZE = 400`` and the
study's setting (``max_epochs=26, batch_size=4, lr=0.0001``).
"""

# %%
# Training with a validation split
# --------------------------------
# By default the estimators train on everything ``fit`` receives (``train_split=None``),
# since cross-validation does the splitting. To watch a validation loss, pass skorch's
# :class:`~skorch.dataset.ValidSplit`: here 20% of the training images, stratified. The
# history then holds ``valid_loss`` and ``valid_acc`` for every epoch.
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from skorch.dataset import ValidSplit

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, fetch_skin3

IMAGE_SIZE = 48

data = fetch_skin3()
X_train, X_test, y_train, y_test = train_test_split(
    data.filenames, data.target, test_size=20, stratify=data.target, random_state=42
)
clf = VanillaCNNClassifier(
    max_epochs=30,
    lr=0.001,
    train_split=ValidSplit(0.2, stratified=True, random_state=0),
    random_state=0,
)
model = make_pipeline(ImageLoader(size=IMAGE_SIZE), ChannelNormalizer(), clf).fit(X_train, y_train)

# %%
# Learning curves
# ---------------
# ``history_`` is indexed like a table: ``history_[:, "train_loss"]`` is the training loss of
# every epoch; the validation loss is there because of the validation split. A validation
# loss that stops falling while the training loss goes on falling is the sign of
# overfitting: more epochs would not help.
history = clf.history_
epochs = history[:, "epoch"]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(epochs, history[:, "train_loss"], label="training images")
ax.plot(epochs, history[:, "valid_loss"], label="validation images")
ax.set_xlabel("epoch")
ax.set_ylabel("class-weighted cross-entropy")
ax.legend()
fig.tight_layout()

# %%
# Confusion matrix
# ----------------
# On the 20 held-out test images, never seen in training. Rows are the true classes, columns
# the predicted ones; normalising by row shows each class's recall on the diagonal.
fig, ax = plt.subplots(figsize=(5, 4))
ConfusionMatrixDisplay.from_estimator(
    model,
    X_test,
    y_test,
    normalize="true",
    values_format=".2f",
    cmap="Blues",
    ax=ax,
    xticks_rotation=20,
)
ax.set_title(f"VanillaCNNClassifier, {IMAGE_SIZE}x{IMAGE_SIZE} pixels")
fig.tight_layout()
plt.show()
