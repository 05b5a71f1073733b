"""Regression tests for hostile or careless inputs (issue 16): each case reproduces a failure
found by hand and checks the one-line error (or the safe behaviour) that replaced it."""

import io
import zipfile

import pytest

from skin_estimators.datasets._download import safe_extract_zip


def _zip(members, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- archives ---------------------------------------------------------------------------

def test_zip_bomb_member_is_refused_before_anything_is_written(tmp_path):
    # 200 MB of zeros compress to ~200 KB: the case from the issue.
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"acne/1-1.jpg": b"\0" * (200 << 20)}))
    assert archive.stat().st_size < 300_000
    with pytest.raises(OSError, match=r"bomb\.zip.*compressed .* times"):
        safe_extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_over_the_total_size_limit_is_refused(tmp_path):
    archive = tmp_path / "big.zip"
    archive.write_bytes(_zip({"acne/a.jpg": b"x" * 4000, "herpes/b.jpg": b"y" * 4000},
                             compression=zipfile.ZIP_STORED))
    with pytest.raises(OSError, match=r"8,000 bytes, more than the limit of 5,000"):
        safe_extract_zip(archive, tmp_path / "out", max_bytes=5000)
    assert safe_extract_zip(archive, tmp_path / "ok", max_bytes=8000) == 2


# --- experiment configs -----------------------------------------------------------------

def _config(tmp_path, text, name="bad.yaml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


_CNN = "data: fetch_skin3\nmodels:\n  - name: cnn\n"


@pytest.mark.parametrize(("text", "key", "says"), [
    ("device: tpu\n" + _CNN, "device", "not a device name"),
    ("image_size: 100000\n" + _CNN, "image_size", "at most 4096"),
    (_CNN + "    params: {optimizer: SGDD}\n", "models[0].params.optimizer", "not an optimizer"),
    (_CNN + "    params: {criterion: foo}\n", "models[0].params.criterion", "Python object"),
    (_CNN + "    params: {module__bogus: 3}\n", "models[0].params.module__bogus", "no argument 'bogus'"),
    (_CNN + '    params: {max_epochs: "two"}\n', "models[0].params.max_epochs",
     "must be a positive integer (got 'two')"),
    (_CNN + "    grid: {lr: [0.1, fast]}\n", "models[0].grid.lr",
     "must be a finite positive number (got 'fast')"),
])
def test_bad_config_values_name_file_and_key(tmp_path, text, key, says):
    from skin_estimators.experiments import ConfigError, load_config

    path = _config(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert str(path) in message and key in message and says in message
    assert "\n" not in message


def test_cuda_in_a_config_without_a_gpu_is_a_config_error(tmp_path):
    import torch

    from skin_estimators.experiments import ConfigError, load_config

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=r"device: .*no CUDA GPU"):
        load_config(_config(tmp_path, "device: cuda\n" + _CNN))


def test_optimizer_by_name_becomes_the_torch_class(tmp_path):
    import torch

    from skin_estimators.experiments import load_config

    config = load_config(_config(tmp_path, _CNN + "    params: {optimizer: Adam, lr: 0.01}\n"))
    est = config.rows()[0].make_estimator(seed=0, device="cpu")
    assert est.optimizer is torch.optim.Adam


@pytest.mark.timeout(120)  # a hang guard: expanding all 10**9 values would never finish
def test_billion_laughs_in_params_is_refused_before_expanding(tmp_path):
    from skin_estimators.experiments import ConfigError, load_config

    lol = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lol.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    text = "data: fetch_skin3\nmodels:\n  - name: cnn\n    params:\n      module__x:\n" + \
        "\n".join("        " + line for line in lol) + "\n"
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        load_config(_config(tmp_path, text))


def test_binary_config_names_the_file(tmp_path):
    from skin_estimators.experiments import ConfigError, load_config

    path = _config(tmp_path, b"\x89PNG\r\n\x1a\n\xff\xfe", name="image.yaml")
    with pytest.raises(ConfigError, match=r"image\.yaml: not a text file in UTF-8"):
        load_config(path)


def test_unparsable_override_is_a_config_error(tmp_path):
    from skin_estimators.experiments import ConfigError, load_config

    with pytest.raises(ConfigError, match=r"override 'image_size=\[unclosed': not valid YAML"):
        load_config(_config(tmp_path, _CNN), overrides=["image_size=[unclosed"])


def test_image_loader_refuses_absurd_sizes():
    import numpy as np

    from skin_estimators import ImageLoader

    with pytest.raises(ValueError, match="at most 4096 pixels a side, got 60000"):
        ImageLoader(size=60000).transform(np.zeros((1, 8, 8, 3), np.uint8))


def test_describe_reports_a_decompression_bomb_in_one_line(tmp_path, capsys):
    from PIL import Image

    from skin_estimators.cli import main

    folder = tmp_path / "data"
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(folder / cls / "ok.png")
    # A PNG whose header claims 20000 x 20000 pixels (400 MP) but holds almost nothing.
    Image.new("1", (20000, 20000)).save(folder / "a" / "huge.png")
    code = main(["describe", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import json

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    (path, reason), = summary["unreadable"].items()
    assert path.endswith("huge.png") and "MAX_IMAGE_PIXELS" in reason
    assert code in (0, 1)


# --- command-line outputs ---------------------------------------------------------------

@pytest.fixture(scope="module")
def model_and_photos(tmp_path_factory):
    """A tiny fitted pipeline saved in the safe format, and a folder of 3 small photos, one of
    them with a file name that is not valid UTF-8 (Latin-1 'café')."""
    import os

    import numpy as np
    from PIL import Image
    from sklearn.pipeline import make_pipeline

    from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, save_model

    root = tmp_path_factory.mktemp("hostile")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.RandomState(0)
    names = [b"a.jpg", b"b.jpg", b"caf\xe9.jpg"]
    for name in names:
        pixels = rng.randint(0, 255, (12, 12, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(os.fsencode(photos), name), format="JPEG")
    X = rng.randint(0, 255, (9, 12, 12, 3)).astype(np.uint8)
    y = np.array(["acne", "herpes", "lichen"] * 3)
    pipe = make_pipeline(ImageLoader(size=8), ChannelNormalizer(),
                         VanillaCNNClassifier(max_epochs=1, batch_size=4, random_state=0))
    pipe.fit(X, y)
    model = root / "model.safetensors"
    save_model(pipe, model)
    return model, photos


def test_predict_out_may_not_replace_an_input(model_and_photos, capsys):
    from skin_estimators.cli import main

    model, photos = model_and_photos
    photo = photos / "a.jpg"
    before = photo.read_bytes(), model.read_bytes()
    for target in (photo, model):
        code = main(["predict", str(model), str(photo), "--out", str(target), "--quiet"])
        assert code == 2
        assert "is one of the inputs" in capsys.readouterr().err
    assert (photo.read_bytes(), model.read_bytes()) == before


def test_predict_out_folder_is_named_not_a_temp_file(model_and_photos, tmp_path, capsys):
    from skin_estimators.cli import main

    model, photos = model_and_photos
    code = main(["predict", str(model), str(photos), "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "is a folder" in err and ".tmp" not in err


def test_non_utf8_file_names_are_written_losslessly(model_and_photos, tmp_path):
    import csv
    import os

    from skin_estimators.cli import main

    model, photos = model_and_photos
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(model), str(photos), "--out", str(out), "--quiet"]) == 0
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(r["error"] == "" for r in rows)
    assert {os.path.basename(os.fsencode(r["image_path"])) for r in rows} == {
        b"a.jpg", b"b.jpg", b"caf\xe9.jpg"}
    # The name read back opens the very file.
    assert all(os.path.exists(r["image_path"]) for r in rows)


def test_explain_with_a_non_utf8_file_name(model_and_photos, tmp_path):
    import csv

    from skin_estimators.cli import main

    model, photos = model_and_photos
    out = tmp_path / "expl"
    assert main(["explain", str(model), str(photos), "--out", str(out), "--quiet"]) == 0
    with open(out / "explanations.csv", newline="", encoding="utf-8",
              errors="surrogateescape") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(r["error"] == "" for r in rows)


# --- configs that would run code ---------------------------------------------------------

def test_config_import_path_outside_the_library_is_refused(tmp_path, capsys):
    from skin_estimators.cli import main
    from skin_estimators.experiments import ConfigError, load_config

    path = _config(tmp_path, 'data: fetch_skin3\nmodels:\n  - name: "os:abort"\n')
    with pytest.raises(ConfigError, match=r"'os:abort' is an import path outside "
                                          r"skin_estimators.*--allow-import"):
        load_config(path)
    # The command line says so in one line, exit status 2, and nothing is imported or called.
    assert main(["cv", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "--allow-import" in capsys.readouterr().err


def test_library_factories_need_no_opt_in_but_other_library_functions_do(tmp_path):
    from skin_estimators.experiments import ConfigError, load_config

    ok = _config(tmp_path, "data: fetch_skin3\nmodels:\n"
                 "  - name: skin_estimators:make_recommended_classifier\n", name="ok.yaml")
    assert load_config(ok).rows()[0].make_estimator(seed=0, device="cpu") is not None
    bad = _config(tmp_path, "data: fetch_skin3\nmodels:\n"
                  "  - name: skin_estimators:download_weights\n")
    with pytest.raises(ConfigError, match="not an estimator class or estimator factory"):
        load_config(bad)


def test_allow_import_opts_in(tmp_path):
    from skin_estimators.experiments import load_config

    path = _config(tmp_path, "data: fetch_skin3\nmodels:\n"
                   "  - name: sklearn.linear_model:LogisticRegression\n")
    config = load_config(path, allow_import=True)
    assert type(config.rows()[0].make_estimator(seed=0, device="cpu")).__name__ == \
        "LogisticRegression"


def test_mixed_type_labels_get_a_clear_error():
    import numpy as np

    from skin_estimators import VanillaCNNClassifier
    from skin_estimators.utils.estimator_checks import make_tiny_images

    X, _ = make_tiny_images(n=6, size=8)
    y = np.array(["acne", 1, "herpes", 2, "acne", 1], dtype=object)
    with pytest.raises(ValueError, match=r"y mixes label types \(int, str\)"):
        VanillaCNNClassifier(max_epochs=1).fit(X, y)


# --- safe model files -------------------------------------------------------------------

_EVENTS = []
_RECORDING = [False]


def _audit(event, args):
    if _RECORDING[0] and (event == "open" or event.startswith("socket.")
                          or event in ("os.mkdir", "os.rename", "os.remove", "shutil.copyfile")):
        _EVENTS.append((event, args[0] if args else None))


@pytest.fixture
def touched():
    """Records every file opened, folder made and socket used while the test body runs."""
    import sys

    if not getattr(sys, "_skin_estimators_audit", False):
        sys.addaudithook(_audit)  # audit hooks cannot be removed: one for the whole session
        sys._skin_estimators_audit = True
    _EVENTS.clear()
    _RECORDING[0] = True
    yield _EVENTS
    _RECORDING[0] = False


@pytest.fixture(scope="module")
def saved_cnn(tmp_path_factory):
    import numpy as np

    from skin_estimators import VanillaCNNClassifier, save_model

    X = np.random.RandomState(0).randn(9, 3, 8, 8).astype("float32")
    y = np.array(["acne", "herpes", "lichen"] * 3)
    clf = VanillaCNNClassifier(max_epochs=1, batch_size=4, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("safe") / "cnn.safetensors"
    save_model(clf, path)
    return clf, X, path


def _crafted(saved, tmp_path, edit):
    """A copy of ``saved`` with its JSON edited and the digest recomputed (as an attacker can)."""
    import json
    import shutil

    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence import _safe

    path = tmp_path / "crafted.safetensors"
    shutil.copy(saved, path)
    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["skin_estimators"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    edit(doc["estimator"]["params"])
    meta = json.dumps(doc)
    save_file(tensors, str(path), metadata={"skin_estimators": meta,
                                            "sha256": _safe.digest(meta, tensors)})
    return path


def _opened(touched):
    """The absolute paths of the files opened while recording."""
    import os

    return {os.path.abspath(os.fsdecode(a)) for e, a in touched
            if e == "open" and isinstance(a, (str, bytes, os.PathLike))}


def _library_reads(opened):
    """What loading may read besides the file, as the library itself decides: modules being
    imported, installed packages' version metadata and the ONNX graph cache (the key of a
    cached graph names the versions). Nothing the file names."""
    import os
    import sys

    from skin_estimators.preprocessing import _onnx_backend

    cache = os.path.abspath(_onnx_backend.cache_dir())
    return {p for p in opened
            if p.startswith(cache + os.sep) or p.endswith(os.sep + "METADATA")
            or p in {os.path.abspath(e) for e in sys.path if e}}


@pytest.mark.parametrize("edit", [
    lambda p: p.update(module={"__type__": "skin_estimators.networks.download_weights"},
                       module__cache_dir="/tmp/attacker-chosen"),
    lambda p: p.update(module={"__type__": "skin_estimators.networks.create_backbone"}),
    lambda p: p.update(module__pretrained="/etc/passwd"),
    lambda p: p.update(module__url="http://127.0.0.1:9/x.pth"),
], ids=["download_weights", "create_backbone", "local-path", "url"])
def test_crafted_safe_file_is_refused_without_touching_anything(saved_cnn, tmp_path, touched,
                                                                 edit):
    import os

    from skin_estimators import ModelFileError, load_model

    _RECORDING[0] = False
    path = _crafted(saved_cnn[2], tmp_path, edit)
    before = sorted(os.listdir(tmp_path))
    _RECORDING[0] = True
    with pytest.raises(ModelFileError, match=r"crafted\.safetensors.*refusing"):
        load_model(path)
    _RECORDING[0] = False
    assert not [e for e in touched if e[0].startswith("socket.")]
    opened = _opened(touched)
    assert opened - _library_reads(opened) <= {os.path.abspath(path)}, opened
    assert not any(p.endswith("passwd") for p in opened)
    assert not [e for e in touched if e[0] != "open"]
    assert sorted(os.listdir(tmp_path)) == before
    assert not os.path.exists("/tmp/attacker-chosen")


def test_recommended_pipeline_loads_from_its_file_alone(tmp_path, touched):
    """The frozen backbone's weights are in the file: loading never opens the weights package
    (a file saying pretrained=True or naming a weights path reads nothing but itself)."""
    import os

    import numpy as np
    import torch

    from skin_estimators import load_model, make_recommended_classifier, save_model

    _RECORDING[0] = False
    X = np.random.RandomState(0).randn(6, 3, 32, 32).astype("float32")
    y = np.array(["acne", "herpes", "lichen"] * 2)
    clf = make_recommended_classifier(pretrainedfeatures__pretrained=False).fit(X, y)
    with torch.no_grad():  # weights no random rebuild has: the loaded ones must be the file's
        for p in clf[0].backbone_.parameters():
            p.add_(0.01)
    clf[0].set_params(pretrained="/etc/passwd")  # as a crafted file could say
    path = tmp_path / "recommended.safetensors"
    save_model(clf, path)
    before = sorted(os.listdir(tmp_path))
    _RECORDING[0] = True
    loaded = load_model(path)
    _RECORDING[0] = False
    opened = _opened(touched)
    assert opened - _library_reads(opened) <= {os.path.abspath(path)}, opened
    assert not any(p.endswith("passwd") for p in opened)
    assert not [e for e in touched if e[0] != "open"]
    assert sorted(os.listdir(tmp_path)) == before
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-5)


def test_cuda_saved_safe_file_loads_on_a_cpu_machine(saved_cnn, tmp_path):
    import numpy as np
    import torch

    from skin_estimators import load_model, save_model

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the fallback is for CPU-only machines")
    clf, X, _ = saved_cnn
    path = tmp_path / "gpu.safetensors"
    clf.__dict__["device"] = "cuda"  # as saved on a GPU machine
    try:
        save_model(clf, path)
    finally:
        clf.__dict__["device"] = "auto"
    with pytest.warns(UserWarning, match="no CUDA GPU: it runs on the CPU"):
        loaded = load_model(path)
    assert str(loaded.device) == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-5)


# --- train ------------------------------------------------------------------------------

def _tiny_folder(root):
    from PIL import Image

    for i, cls in enumerate(["acne", "herpes", "lichen"]):
        (root / cls).mkdir(parents=True)
        for j in range(3):
            Image.new("RGB", (10, 10), (40 * i, 20 * j, 90)).save(root / cls / f"{j}.png")


def test_train_failure_leaves_no_empty_output_folder(tmp_path, capsys, monkeypatch):
    from skin_estimators.cli import main

    _tiny_folder(tmp_path / "data")
    config = _config(tmp_path, "data: {path: data}\nimage_size: 8\nmodels:\n  - name: cnn\n"
                     "    params: {max_epochs: 1, batch_size: 4}\n", name="c.yaml")

    def boom(*args, **kwargs):
        raise ValueError("fit failed here")

    monkeypatch.setattr("skin_estimators.experiments.fit_final", boom)
    code = main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 1 and "fit failed here" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_import_path_needs_allow_import(tmp_path, capsys):
    from skin_estimators.cli import main

    config = _config(tmp_path, 'data: fetch_skin3\nmodels:\n  - name: "os:abort"\n')
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "--allow-import" in err and "Traceback" not in err


def test_memory_error_is_one_line(capsys, monkeypatch):
    from skin_estimators._commands._common import run_reporting_errors

    def hungry(args):
        raise MemoryError

    assert run_reporting_errors("skin-estimators x", hungry, None) == 1
    assert "not enough memory" in capsys.readouterr().err


def test_train_on_controlled_inputs(tmp_path):
    """The model `train` writes sees the inputs its protocol measured."""
    from skin_estimators import load_model
    from skin_estimators.cli import main
    from skin_estimators.preprocessing import CONTROLLED_INPUTS

    _tiny_folder(tmp_path / "data")
    config = _config(tmp_path, "data: {path: data, groups: null}\nimage_size: 8\n"
                     "models:\n  - name: cnn\n    params: {max_epochs: 1, batch_size: 4}\n",
                     name="c.yaml")
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet",
                 "--test-size", "0", "--controlled"]) == 0
    loader = load_model(out / "model.safetensors")[0]
    assert {k: loader.get_params()[k] for k in CONTROLLED_INPUTS} == CONTROLLED_INPUTS


def test_train_never_writes_over_its_config(tmp_path, capsys):
    from skin_estimators.cli import main

    _tiny_folder(tmp_path / "data")
    config = _config(tmp_path, "data: {path: data, groups: null}\nimage_size: 8\n"
                     "models:\n  - name: cnn\n    params: {max_epochs: 1, batch_size: 4}\n",
                     name="config.yaml")
    before = config.read_text()
    code = main(["train", "--config", str(config), "--out", str(tmp_path), "--quiet"])
    assert code == 2 and "is one of the inputs" in capsys.readouterr().err
    assert config.read_text() == before
