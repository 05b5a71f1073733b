"""Hostile safe model files: a file edited and re-sealed (its digest recomputed, as anyone who
can edit it can do) loads only if it is consistent, and fails as one ModelFileError naming the
file and the field otherwise; a full disk while saving is one line naming the file."""

import json
import shutil

import numpy as np
import pytest

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    ModelFileError,
    VanillaCNNClassifier,
    load_model,
    save_model,
)

NAME = r"crafted\.safetensors"


@pytest.fixture(scope="module")
def linear_file(tmp_path_factory):
    """A scaler and a logistic regression on 5 features, 3 string classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X = rng.randn(12, 5)
    y = np.array(["acne", "herpes", "lichen"] * 4)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X + (y == "acne")[:, None], y)
    path = tmp_path_factory.mktemp("linear") / "linear.safetensors"
    save_model(clf, path)
    return path, X


@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory):
    """ImageLoader -> ChannelNormalizer -> VanillaCNNClassifier on tiny images."""
    from sklearn.pipeline import make_pipeline

    images = np.random.RandomState(0).randint(0, 256, (9, 8, 8, 3), dtype=np.uint8)
    y = np.array(["acne", "herpes", "lichen"] * 3)
    clf = make_pipeline(ImageLoader(size=8), ChannelNormalizer(),
                        VanillaCNNClassifier(max_epochs=1, batch_size=4, random_state=0))
    clf.fit(images, y)
    path = tmp_path_factory.mktemp("cnn") / "cnn.safetensors"
    save_model(clf, path)
    return path, images


@pytest.fixture(scope="module")
def ensemble_file(tmp_path_factory):
    """A soft vote of a scaler + logistic regression and of a bare logistic regression."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X = rng.randn(12, 5)
    y = np.array(["acne", "herpes", "lichen"] * 4)
    clf = VotingClassifier([("scaled", make_pipeline(StandardScaler(), LogisticRegression())),
                            ("plain", LogisticRegression())], voting="soft", weights=[2, 1])
    clf.fit(X + (y == "acne")[:, None], y)
    path = tmp_path_factory.mktemp("ensemble") / "ensemble.safetensors"
    save_model(clf, path)
    return path, X


def craft(source, tmp_path, edit, name="crafted.safetensors"):
    """A copy of the safe file ``source`` whose JSON ``edit(doc)`` changed, re-sealed.

    The digest is recomputed with the library's own function and the file rewritten with
    safetensors, as whoever can edit a file can do: only consistency checks can tell.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence import _safe

    path = tmp_path / name
    shutil.copy(source, path)
    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["skin_estimators"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    edit(doc)
    meta = json.dumps(doc)  # NaN is written as NaN, as Python's json reads it back
    save_file(tensors, str(path), metadata={"skin_estimators": meta,
                                            "sha256": _safe.digest(meta, tensors)})
    return path


def step(doc, name):
    """The description of the pipeline step ``name``."""
    return dict(doc["estimator"]["steps"])[name]


def fitted(doc, name):
    return step(doc, name)["fitted"]


def array(values, dtype):
    values = list(values)
    return {"__ndarray__": values, "dtype": dtype, "shape": [len(values)]}


def refused(path, *fields):
    """Load ``path``; the ModelFileError must name the file and each of ``fields``."""
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"Cannot load the model file {str(path)!r}: "), message
    assert "\n" not in message
    for field in fields:
        assert field in message, (field, message)
    return message


def test_the_unedited_files_load(linear_file, cnn_file, tmp_path):
    for source, X in (linear_file, cnn_file):
        path = craft(source, tmp_path, lambda doc: None)
        assert load_model(path).predict(X).shape == (len(X),)


# ------------------------------------------------------------------ silent garbage
def test_nan_in_coef_is_refused(linear_file, tmp_path):
    def edit(doc):
        fitted(doc, "logisticregression")["coef_"]["__ndarray__"][0][0] = float("nan")

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'].coef_", "nan")


@pytest.mark.parametrize("attr", ["intercept_", "mean_"])
def test_inf_in_fitted_arrays_is_refused(linear_file, tmp_path, attr):
    owner = "logisticregression" if attr == "intercept_" else "standardscaler"

    def edit(doc):
        fitted(doc, owner)[attr]["__ndarray__"][0] = float("inf")

    refused(craft(linear_file[0], tmp_path, edit), f"['{owner}'].{attr}", "inf")


def test_duplicated_classes_are_refused(linear_file, tmp_path):
    def edit(doc):
        fitted(doc, "logisticregression")["classes_"] = array(["acne", "acne", "lichen"], "<U6")

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'].classes_",
            "more than once")


@pytest.mark.parametrize("classes, dtype, says", [
    (["acne", 1, "lichen"], "object", "mixes labels"),
    ([0.5, 1.5, 2.5], "<f8", "whole numbers"),
    ([0.0, float("nan"), 2.0], "<f8", "holds nan"),
], ids=["mixed", "floats", "nan"])
def test_classes_that_are_not_labels_are_refused(linear_file, tmp_path, classes, dtype, says):
    def edit(doc):
        fitted(doc, "logisticregression")["classes_"] = array(classes, dtype)

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'].classes_", says)


def test_nested_classes_are_refused(linear_file, tmp_path):
    def edit(doc):
        fitted(doc, "logisticregression")["classes_"] = {
            "__ndarray__": [["a", "b"], ["c", "d"], ["e", "f"]], "dtype": "<U1", "shape": [3, 2]}

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'].classes_",
            "one-dimensional")


def test_more_class_names_than_coefficient_rows_is_refused(linear_file, tmp_path):
    def edit(doc):
        fitted(doc, "logisticregression")["classes_"] = array(["a", "b", "c", "d"], "<U1")

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'].coef_",
            "3 row(s) for the 4 classes")


def test_network_classes_must_be_labels(cnn_file, tmp_path):
    def edit(doc):
        step(doc, "vanillacnnclassifier")["classes"] = array(["acne", "acne", "x"], "<U4")

    refused(craft(cnn_file[0], tmp_path, edit), "['vanillacnnclassifier'].classes_",
            "more than once")


def test_network_classes_must_match_its_output_layer(cnn_file, tmp_path):
    def edit(doc):
        step(doc, "vanillacnnclassifier")["params"]["module__n_classes"] = 5

    refused(craft(cnn_file[0], tmp_path, edit), "module__n_classes", "3 classes")


@pytest.mark.parametrize("owner, param", [("logisticregression", "C"),
                                          ("vanillacnnclassifier", "lr")])
def test_non_finite_parameters_are_refused(linear_file, cnn_file, tmp_path, owner, param):
    source = linear_file[0] if owner == "logisticregression" else cnn_file[0]

    def edit(doc):
        step(doc, owner)["params"][param] = float("nan")

    refused(craft(source, tmp_path, edit), f"['{owner}'] parameter {param}", "nan")


# ------------------------------------------------------------------ fitted attribute names
@pytest.mark.parametrize("owner, attr, value", [
    ("logisticregression", "__class__", {"__type__": "torch.optim.SGD"}),
    ("logisticregression", "predict_proba",
     {"__type__": "skin_estimators.networks.download_weights"}),
    ("standardscaler", "transform", {"__type__": "skin_estimators.networks.download_weights"}),
    ("logisticregression", "predict_proba_", 1),
    ("logisticregression", "_private_", 1),
], ids=["__class__", "predict_proba", "transform", "unknown_", "_private_"])
def test_fitted_names_are_the_class_own_attributes(linear_file, tmp_path, owner, attr, value):
    def edit(doc):
        fitted(doc, owner)[attr] = value

    refused(craft(linear_file[0], tmp_path, edit), f"['{owner}'].{attr}",
            "is not a fitted attribute")


def test_a_network_property_is_not_a_fitted_attribute(cnn_file, tmp_path):
    def edit(doc):
        fitted(doc, "vanillacnnclassifier")["classes_"] = array(["a", "b", "c"], "<U1")

    refused(craft(cnn_file[0], tmp_path, edit), "['vanillacnnclassifier'].classes_",
            "is not a fitted attribute of VanillaCNNClassifier")


# ------------------------------------------------------------------ devices, nesting
@pytest.mark.parametrize("device", [{"__device__": "garbage"}, {"__device__": "meta"},
                                    "garbage", "meta", {"__device__": 7}],
                         ids=["tag-garbage", "tag-meta", "garbage", "meta", "tag-number"])
def test_a_device_parameter_is_parsed_strictly(cnn_file, tmp_path, device):
    def edit(doc):
        step(doc, "vanillacnnclassifier")["params"]["device"] = device

    refused(craft(cnn_file[0], tmp_path, edit), "['vanillacnnclassifier'] parameter device",
            "not 'cpu', 'cuda', 'cuda:N' or 'mps'")


def test_a_device_in_the_metadata_is_parsed_strictly(cnn_file, tmp_path):
    def edit(doc):
        doc["metadata"] = {"__dict__": [["device", {"__device__": "garbage"}]]}

    refused(craft(cnn_file[0], tmp_path, edit), "metadata", "'garbage'")


def test_a_deeply_nested_value_is_refused(linear_file, tmp_path):
    deep = 1
    for _ in range(700):
        deep = [deep]

    def edit(doc):
        step(doc, "logisticregression")["params"]["C"] = deep

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'] parameter C",
            "nests more than 64 levels deep")


def test_a_description_too_deep_for_json_is_refused(linear_file, tmp_path):
    deep = 1
    for _ in range(3000):
        deep = [deep]

    def edit(doc):
        doc["metadata"] = deep

    path = tmp_path / "crafted.safetensors"
    try:
        craft(linear_file[0], tmp_path, edit)
    except RecursionError:  # too deep for json.dumps here: write it by hand
        from safetensors import safe_open
        from safetensors.torch import save_file

        from skin_estimators._persistence import _safe

        with safe_open(str(linear_file[0]), framework="pt") as f:
            text = f.metadata()["skin_estimators"]
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = text[:-1] + ', "deep": ' + "[" * 3000 + "]" * 3000 + "}"
        save_file(tensors, str(path), metadata={"skin_estimators": meta,
                                                "sha256": _safe.digest(meta, tensors)})
    refused(path, "nests too deeply")


def test_deep_values_are_refused_when_saving(linear_file, tmp_path):
    """What the reader would refuse is never written."""
    from skin_estimators.persistence import UnrepresentableError

    model = load_model(linear_file[0])
    deep = 1
    for _ in range(70):
        deep = [deep]
    model[-1].set_params(class_weight=deep)
    with pytest.raises(UnrepresentableError, match="nests at most 64 levels deep"):
        save_model(model, tmp_path / "deep.safetensors")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ classes and pipelines
@pytest.mark.parametrize("owner, new_class, says", [
    ("channelnormalizer", "skin_estimators.VanillaCNNClassifier",
     "is a VanillaCNNClassifier without its classes and trained network"),
    ("vanillacnnclassifier", "skin_estimators.ChannelNormalizer",
     "is a ChannelNormalizer, which has no classes"),
    ("vanillacnnclassifier", "skin_estimators.ScatteringClassifier", "network builder"),
    ("imageloader", "skin_estimators.ChannelNormalizer", "without its fitted attribute"),
], ids=["normalizer-as-cnn", "cnn-as-normalizer", "cnn-as-scattering", "loader-as-normalizer"])
def test_a_class_swapped_for_another_allowed_class_is_refused(cnn_file, tmp_path, owner,
                                                              new_class, says):
    def edit(doc):
        step(doc, owner)["class"] = new_class

    refused(craft(cnn_file[0], tmp_path, edit), f"['{owner}']", says)


def test_logistic_regression_swapped_for_a_network_is_refused(linear_file, tmp_path):
    def edit(doc):
        step(doc, "logisticregression")["class"] = "skin_estimators.VanillaCNNClassifier"

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression']",
            "VanillaCNNClassifier")


def test_a_pipeline_without_steps_is_refused(linear_file, tmp_path):
    refused(craft(linear_file[0], tmp_path, lambda doc: doc["estimator"].update(steps=[])),
            "model.steps", "at least one step")


@pytest.mark.parametrize("last", ["drop", "passthrough"])
def test_a_pipeline_must_end_with_a_classifier(linear_file, tmp_path, last):
    def edit(doc):
        steps = doc["estimator"]["steps"]
        if last == "drop":
            steps.pop()
        else:
            steps[-1][1] = "passthrough"

    message = refused(craft(linear_file[0], tmp_path, edit), "the last step", "not a classifier")
    assert ("StandardScaler" in message) == (last == "drop")


def test_a_classifier_before_the_last_step_is_refused(linear_file, tmp_path):
    def edit(doc):
        steps = doc["estimator"]["steps"]
        steps[0] = ["first", steps[1][1]]

    refused(craft(linear_file[0], tmp_path, edit), "model['first']", "cannot transform")


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("owner, attr, value, says", [
    ("standardscaler", "mean_", array([0.0] * 4, "<f8"), "mean_ has shape (4,)"),
    ("standardscaler", "scale_", array([1.0, 1.0, 0.0, 1.0, 1.0], "<f8"), "scale_ is not positive"),
    ("standardscaler", "n_features_in_", 6, "mean_ has shape (5,); (6,) expected"),
    ("logisticregression", "intercept_", array([0.0, 0.0], "<f4"), "intercept_ has shape (2,)"),
    ("logisticregression", "n_features_in_", 7, "coef_ has 5 columns"),
    ("logisticregression", "coef_", array([0.0] * 5, "<f4"), "coef_ is not a 2-D array"),
], ids=["scaler-mean", "scaler-scale", "scaler-n-features", "intercept", "coef-columns",
        "coef-1d"])
def test_wrong_array_shapes_are_refused(linear_file, tmp_path, owner, attr, value, says):
    def edit(doc):
        fitted(doc, owner)[attr] = value

    refused(craft(linear_file[0], tmp_path, edit), f"['{owner}'].", says)


def test_steps_must_agree_on_the_number_of_features(linear_file, tmp_path):
    def edit(doc):
        scaler = fitted(doc, "standardscaler")
        scaler["n_features_in_"] = 4
        for attr in ("mean_", "var_", "scale_"):
            scaler[attr] = array([1.0] * 4, "<f8")

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression'].n_features_in_ = 5",
            "gives 4 features")


@pytest.mark.parametrize("attr, value, says", [
    ("mean_", array([0.5, 0.5], "<f8"), "mean_ has shape (2,); (3,) expected"),
    ("std_", array([0.2, 0.0, 0.2], "<f8"), "std_ = [0.2, 0.0, 0.2] is not positive"),
    ("std_", array([0.2, float("nan"), 0.2], "<f8"), "std_ holds nan"),
], ids=["mean-size", "std-zero", "std-nan"])
def test_normalizer_statistics_are_checked(cnn_file, tmp_path, attr, value, says):
    def edit(doc):
        fitted(doc, "channelnormalizer")[attr] = value

    refused(craft(cnn_file[0], tmp_path, edit), f"['channelnormalizer'].{attr}", says)


@pytest.mark.parametrize("attr, value, says", [
    ("input_shape_", {"__tuple__": [3, -8, 8]}, "input_shape_ = -8 is not a positive integer"),
    ("class_weight_", array([1.0, 1.0], "<f4"), "class_weight_ has shape (2,); (3,)"),
], ids=["input-shape", "class-weight"])
def test_network_shapes_are_checked(cnn_file, tmp_path, attr, value, says):
    def edit(doc):
        fitted(doc, "vanillacnnclassifier")[attr] = value

    refused(craft(cnn_file[0], tmp_path, edit), f"['vanillacnnclassifier'].{attr}", says)


def test_no_other_exception_escapes_load_model(cnn_file, tmp_path):
    """What no check foresees still becomes one ModelFileError naming the estimator."""
    def edit(doc):  # a parameter the network builder does not take: TypeError inside torch
        step(doc, "vanillacnnclassifier")["params"]["module__no_such_option"] = 1

    refused(craft(cnn_file[0], tmp_path, edit), "['vanillacnnclassifier']")


# ------------------------------------------------------------------ ensembles
def member(doc, name):
    """The description of the ensemble's member ``name``."""
    return dict(doc["estimator"]["members"])[name]


def test_the_unedited_ensemble_loads_and_votes(ensemble_file, tmp_path):
    path = craft(ensemble_file[0], tmp_path, lambda doc: None)
    model = load_model(path)
    X = ensemble_file[1]
    members = np.stack([m.predict_proba(X) for m in model.estimators_])
    np.testing.assert_allclose(model.predict_proba(X),
                               np.average(members, axis=0, weights=[2, 1]))
    assert model.predict(X).dtype.kind == "U"


def _edit_members(fn):
    def edit(doc):
        fn(doc["estimator"]["members"])
    return edit


@pytest.mark.parametrize("edit, fields", [
    (lambda doc: member(doc, "plain").update({"class": "os.system"}),
     ("model['plain']", "does not know")),
    (lambda doc: member(doc, "plain")["fitted"].update(classes_=array([0, 1, 5], "<i8")),
     ("model['plain'].classes_", "encoded labels")),
    (lambda doc: member(doc, "plain")["fitted"].update(
        classes_=array(["acne", "herpes", "lichen"], "<U6")),
     ("model['plain'].classes_", "encoded labels")),
    (lambda doc: dict(member(doc, "scaled")["steps"])["logisticregression"]["fitted"].update(
        classes_=array([0, 1], "<i8")), ("model['scaled']",)),
    (lambda doc: doc["estimator"]["fitted"].update(
        le_={"__ndarray__": [1], "dtype": "<i8", "shape": [1]}),
     ("model.le_", "not a fitted attribute of VotingClassifier")),
    (lambda doc: doc["estimator"]["fitted"].pop("classes_"),
     ("model", "without its fitted attribute(s) classes_")),
    (lambda doc: doc["estimator"]["fitted"].update(classes_=array(["b", "a", "c"], "<U1")),
     ("model.classes_", "not sorted")),
    (lambda doc: doc["estimator"].pop("members"), ("model", "needs its members")),
    (lambda doc: doc["estimator"].update(members=[]), ("model.members", "1 to 16")),
    (_edit_members(lambda m: m.extend([["plain", m[1][1]]])),
     ("model.members", "not unique")),
    (_edit_members(lambda m: m[1].__setitem__(0, "a__b")), ("model.members", "without '__'")),
    (_edit_members(lambda m: m.extend([[f"m{i}", m[1][1]] for i in range(15)])),
     ("model.members", "1 to 16")),
    (lambda doc: doc["estimator"]["params"].update(weights=[1, -1]),
     ("model parameter weights", "negative")),
    (lambda doc: doc["estimator"]["params"].update(weights=[1, 1, 1]),
     ("model parameter weights", "one number per member")),
    (lambda doc: doc["estimator"]["params"].update(weights=[1, float("nan")]),
     ("model parameter weights", "not a finite number")),
    (lambda doc: doc["estimator"]["params"].update(voting="maybe"),
     ("model parameter voting", "got 'maybe'")),
    (lambda doc: doc["estimator"]["params"].update(estimators=[]),
     ("model", "members, not as a parameter")),
    (lambda doc: member(doc, "plain").update(member(doc, "scaled")["steps"][0][1]),
     ("model['plain']",)),
], ids=["class-not-allowed", "member-classes", "member-string-classes", "member-two-classes",
        "label-encoder", "no-classes", "unsorted-classes", "no-members", "empty-members",
        "duplicate-names", "nested-name", "too-many-members", "negative-weight",
        "weights-length", "nan-weight", "voting", "estimators-param", "member-not-classifier"])
def test_a_hostile_ensemble_is_refused(ensemble_file, tmp_path, edit, fields):
    refused(craft(ensemble_file[0], tmp_path, edit), *fields)


def test_members_are_refused_on_other_estimators(linear_file, ensemble_file, tmp_path):
    def edit(doc):
        step(doc, "logisticregression")["members"] = [["a", step(doc, "standardscaler")]]

    refused(craft(linear_file[0], tmp_path, edit), "['logisticregression']", "has no members")


def test_ensembles_nested_too_deep_are_refused(ensemble_file, tmp_path):
    def edit(doc):
        spec = doc["estimator"]
        for _ in range(10):
            spec = {**spec, "members": [["inner", spec], ["plain", member(doc, "plain")]]}
        doc["estimator"] = spec

    refused(craft(ensemble_file[0], tmp_path, edit), "nest more than 8 levels")


# ------------------------------------------------------------------ command line
@pytest.mark.parametrize("command", ["info", "predict"])
def test_the_commands_report_a_hostile_file_in_one_line(linear_file, tmp_path, capsys, command):
    from PIL import Image

    from skin_estimators.cli import main

    def edit(doc):
        fitted(doc, "logisticregression")["coef_"]["__ndarray__"][0][0] = float("nan")

    path = craft(linear_file[0], tmp_path, edit)
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    argv = [command, str(path)]
    if command == "predict":
        argv += [str(tmp_path / "photo.png"), "--out", str(tmp_path / "p.csv"), "--quiet"]
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert "crafted.safetensors" in err[0] and "coef_" in err[0]
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("where", ["param", "metadata"])
def test_info_reports_a_garbage_device_in_one_line(cnn_file, tmp_path, capsys, where):
    from skin_estimators.cli import main

    def edit(doc):
        if where == "param":
            step(doc, "vanillacnnclassifier")["params"]["device"] = {"__device__": "garbage"}
        else:
            doc["metadata"] = {"__dict__": [["device", {"__device__": "garbage"}]]}

    assert main(["info", str(craft(cnn_file[0], tmp_path, edit))]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "crafted.safetensors" in err[0] and "garbage" in err[0], err


# ------------------------------------------------------------------ disk full
def _disk_full(monkeypatch):
    """Make safetensors' writer fail as it does on a full disk (after writing a little)."""
    import safetensors.torch
    from safetensors import SafetensorError

    def save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise SafetensorError("Error while serializing: I/O error: No space left on device "
                              "(os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)


def test_a_full_disk_while_saving_is_one_line_naming_the_file(linear_file, tmp_path,
                                                              monkeypatch):
    import errno

    model = load_model(linear_file[0])
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    before = path.read_bytes()
    _disk_full(monkeypatch)
    with pytest.raises(OSError) as info:
        save_model(model, path)
    message = str(info.value)
    assert message == (f"Cannot save the model file {str(path)!r}: no space left on device. "
                       "Nothing was written (a previous file of that name is unchanged); "
                       "free some space, or save it elsewhere.")
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_a_full_disk_while_saving_joblib_is_one_line_naming_the_file(linear_file, tmp_path,
                                                                    monkeypatch):
    import errno

    import joblib

    model = load_model(linear_file[0])
    path = tmp_path / "model.joblib"

    def dump(value, filename, *args, **kwargs):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(joblib, "dump", dump)
    with pytest.raises(OSError) as info:
        save_model(model, path, format="joblib")
    assert str(info.value) == (
        f"Cannot save the model file {str(path)!r}: no space left on device. Nothing was "
        "written (a previous file of that name is unchanged); free some space, or save it "
        "elsewhere.")
    assert list(tmp_path.iterdir()) == []


def test_train_on_a_full_disk_exits_1_with_one_line(tmp_path, capsys, monkeypatch):
    from PIL import Image

    from skin_estimators.cli import main

    for i, cls in enumerate(["acne", "herpes", "lichen"]):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for j in range(5):
            Image.new("RGB", (10, 10), (40 * i, 20 * j, 90)).save(
                tmp_path / "data" / cls / f"{j}.png")
    config = tmp_path / "c.yaml"
    config.write_text("data: {path: data}\nimage_size: 8\nmodels:\n  - name: cnn\n"
                      "    params: {max_epochs: 1, batch_size: 4}\n")
    _disk_full(monkeypatch)
    code = main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(err) == 1 and "no space left on device" in err[0], err
    assert str(tmp_path / "run" / "model.safetensors") in err[0]
    assert not (tmp_path / "run" / "model.safetensors").exists()


# ------------------------------------------------------------------ the fitted-attribute lists
def _fitted_estimators():
    """One real fit of every estimator the safe format holds (tiny data, one epoch)."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import make_pipeline

    from skin_estimators import (
        EfficientNetLiteClassifier,
        ScatteringClassifier,
        SkinNetClassifier,
        TrustedClassifier,
        make_recommended_classifier,
    )
    from skin_estimators.networks import MLP

    rng = np.random.RandomState(0)
    X = rng.randn(6, 3, 32, 32).astype("float32")
    y = np.array(["acne", "herpes", "lichen"] * 2)
    images = rng.randint(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    small = dict(max_epochs=1, batch_size=4, random_state=0)
    return [
        SkinNetClassifier(module=MLP, **small).fit(X.reshape(6, -1), [0, 1] * 3),
        VanillaCNNClassifier(**small).fit(X, y),
        EfficientNetLiteClassifier(pretrained=False, **small).fit(X, y),
        ScatteringClassifier(**small).fit(X, y),
        make_pipeline(ImageLoader(size=16), ChannelNormalizer()).fit(images),
        make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
                      make_recommended_classifier(pretrainedfeatures__pretrained=False)
                      ).fit(images, y),
        make_recommended_classifier(pretrainedfeatures__pretrained=False).fit(X, y == "acne"),
        make_pipeline(ImageLoader(size=16), ChannelNormalizer(), TrustedClassifier(
            make_recommended_classifier(pretrainedfeatures__pretrained=False), cv=2,
            conformal="cross")).fit(images, y),
        make_pipeline(ImageLoader(size=16), ChannelNormalizer(), VotingClassifier([
            ("probe", make_recommended_classifier(pretrainedfeatures__pretrained=False)),
            ("net", EfficientNetLiteClassifier(pretrained=False, **small))],
            voting="soft")).fit(images, y),
    ]


def test_every_attribute_a_fit_creates_is_on_the_fitted_list(tmp_path):
    from sklearn.pipeline import Pipeline

    from skin_estimators._persistence import _registry, _safe
    from skin_estimators._persistence._fitted import FITTED, REQUIRED

    for name in _registry._estimators():
        assert name in FITTED, name
    for name, attrs in REQUIRED.items():
        assert set(attrs) <= set(FITTED[name]), name
    seen = set()

    def walk(spec):
        seen.add(spec["class"])
        for _, sub in spec.get("steps", []):
            if sub != "passthrough":
                walk(sub)
        if "estimator" in spec:  # a meta-estimator's fitted wrapped estimator
            walk(spec["estimator"])
        for _, sub in spec.get("members", []):  # an ensemble's fitted members
            walk(sub)
        for sub in spec.get("estimators", []):  # fold models (cross-conformal sets)
            walk(sub)
        assert set(spec.get("fitted", {})) <= set(FITTED[spec["class"]]), spec["class"]

    for i, est in enumerate(_fitted_estimators()):
        transformers_only = isinstance(est, Pipeline) and not hasattr(est, "predict")
        for part in [s for _, s in est.steps] if transformers_only else [est]:
            walk(_safe.describe(part, {}))
        def parts(step):  # a step and, in a meta-estimator, its fitted wrapped estimator's
            yield step
            inner = getattr(step, "estimator_", None)
            for _, sub in inner.steps if isinstance(inner, Pipeline) else [("", inner)]:
                if sub is not None:
                    yield from parts(sub)

        steps = est.steps if isinstance(est, Pipeline) else [("", est)]
        for step in [p for _, s in steps for p in parts(s)]:  # every public fitted attribute:
            # stored, or travels otherwise
            name = _registry.estimator_name(step)
            stored = set(_safe.describe(step, {}).get("fitted", {}))
            made = {a for a in vars(step) if a.endswith("_") and not a.startswith("_")}
            other = (_safe._SKORCH_RUNTIME | {"module_", "criterion_", "optimizer_"}
                     | {"backbone_", "estimator_", "estimators_"}  # nested descriptions
                     | {"le_", "named_estimators_"})  # an ensemble's, rebuilt when loading
            assert made - other <= set(FITTED[name]), (name, made - other - set(FITTED[name]))
            assert stored <= set(FITTED[name])
        if transformers_only:  # what the reader refuses is never written
            with pytest.raises(ValueError, match="pipelines that end with a classifier"):
                save_model(est, tmp_path / "transformers.safetensors")
            continue
        path = tmp_path / f"{i}.safetensors"
        save_model(est, path)
        load_model(path)  # what a real fit gives passes every load-time check
    assert {"skin_estimators.SkinNetClassifier", "skin_estimators.VanillaCNNClassifier",
            "skin_estimators.EfficientNetLiteClassifier", "skin_estimators.ScatteringClassifier",
            "skin_estimators.ImageLoader", "skin_estimators.ChannelNormalizer",
            "skin_estimators.PretrainedFeatures", "sklearn.preprocessing.StandardScaler",
            "sklearn.linear_model.LogisticRegression", "sklearn.pipeline.Pipeline",
            "skin_estimators.TrustedClassifier", "sklearn.ensemble.VotingClassifier"} <= seen
