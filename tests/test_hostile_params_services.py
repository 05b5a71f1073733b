"""Hostile parameters and services: NaN/inf parameters, bad object parameters, an unreachable
tracking server and two runs on one output folder each end in one line, before any work."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from skin_estimators import (
    EfficientNetLiteClassifier,
    ImageLoader,
    ScatteringClassifier,
    SkinNetClassifier,
    VanillaCNNClassifier,
)
from skin_estimators.callbacks import WeightAveraging
from skin_estimators.cli import main as cli_main
from skin_estimators.experiments import ConfigError, load_config
from skin_estimators.networks import MLP

REPO = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")
LOCK_NAME = ".skin-estimators.lock"


def FolderLock(*args, **kwargs):  # noqa: N802 (the class, imported where a test needs it)
    from skin_estimators.experiments._lock import FolderLock

    return FolderLock(*args, **kwargs)


@pytest.fixture
def images():
    from skin_estimators.utils.estimator_checks import make_tiny_images

    X, y = make_tiny_images(n=12, size=16)
    return X, np.array(["a", "b", "c"])[y]


@pytest.fixture
def table():
    X = np.random.RandomState(0).randn(24, 4).astype("float32")
    return X, np.where(X[:, 0] > 0, "yes", "no")


def _estimators():
    """(id, factory, takes images) of every skorch estimator family, built cheaply."""
    return [
        ("VanillaCNNClassifier", lambda **kw: VanillaCNNClassifier(max_epochs=1, **kw), True),
        ("SkinNetClassifier", lambda **kw: SkinNetClassifier(MLP, max_epochs=1, **kw), False),
        ("ScatteringClassifier", lambda **kw: ScatteringClassifier(J=2, max_epochs=1, **kw), True),
        ("EfficientNetLiteClassifier",
         lambda **kw: EfficientNetLiteClassifier(pretrained=False, max_epochs=1, **kw), True),
    ]


ESTIMATORS = pytest.mark.parametrize("name, make, on_images", _estimators(),
                                     ids=[e[0] for e in _estimators()])


def _data(on_images, images, table):
    return images if on_images else table


# ---------------------------------------------------------------------------- NaN and inf
@ESTIMATORS
@pytest.mark.parametrize("bad", [NAN, INF, np.float32("nan"), -INF])
def test_non_finite_lr_is_refused_before_training(name, make, on_images, bad, images, table):
    X, y = _data(on_images, images, table)
    shown = repr(float(bad))
    with pytest.raises(ValueError, match=rf"^{name}: lr must be a finite positive number, "
                                         rf"got {shown}\.$"):
        make(lr=bad).fit(X, y)
    est = make()
    est.set_params(lr=bad)
    with pytest.raises(ValueError, match=rf"^{name}: lr must be a finite positive number"):
        est.fit(X, y)
    assert not hasattr(est, "module_")  # refused before anything was built or trained


@ESTIMATORS
@pytest.mark.parametrize("key, bad", [
    ("optimizer__momentum", NAN), ("optimizer__weight_decay", INF),
    ("optimizer__momentum", np.float64("nan")), ("criterion__label_smoothing", NAN),
])
def test_non_finite_routed_float_is_refused(name, make, on_images, key, bad, images, table):
    X, y = _data(on_images, images, table)
    with pytest.raises(ValueError, match=rf"^{name}: {key} must be a finite number, "
                                         rf"got {float(bad)!r}\.$"):
        make(**{key: bad}).fit(X, y)


def test_non_finite_module_float_is_refused(images, table):
    X, y = images
    with pytest.raises(ValueError, match=r"^EfficientNetLiteClassifier: module__drop_rate must "
                                         r"be a finite number, got nan\.$"):
        EfficientNetLiteClassifier(pretrained=False, module__drop_rate=NAN).fit(X, y)
    X, y = table
    with pytest.raises(ValueError, match=r"^SkinNetClassifier: module__hidden must be a finite "
                                         r"number, got inf in \(8, inf\)\.$"):
        SkinNetClassifier(MLP, module__hidden=(8, INF)).fit(X, y)


def test_non_finite_number_inside_a_routed_tuple_is_refused(table):
    X, y = table
    est = SkinNetClassifier(MLP, optimizer=torch.optim.Adam, optimizer__betas=(0.9, NAN))
    with pytest.raises(ValueError, match=r"optimizer__betas must be a finite number, got nan"):
        est.fit(X, y)


@pytest.mark.parametrize("bad", [NAN, INF])
def test_scattering_lr_scattering_is_finite(bad, images):
    with pytest.raises(ValueError, match=rf"^ScatteringClassifier: lr_scattering must be a "
                                         rf"finite positive number, got {bad!r}\.$"):
        ScatteringClassifier(J=2, max_epochs=1, lr_scattering=bad).fit(*images)


@pytest.mark.parametrize("key", ["lr", "optimizer__momentum"])
def test_warm_partial_fit_refuses_a_non_finite_setting(key, table):
    """set_params on a fitted estimator changes its optimizer in place; partial_fit trains
    with it, so it is checked there too."""
    X, y = table
    est = SkinNetClassifier(MLP, max_epochs=1, optimizer__momentum=0.5, random_state=0).fit(X, y)
    before = est.predict_proba(X)
    est.set_params(**{key: NAN})
    with pytest.raises(ValueError, match=rf"^SkinNetClassifier: {key} must be a finite"):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), before)  # nothing was trained


def test_finite_routed_values_and_zero_momentum_still_train(table):
    X, y = table
    est = SkinNetClassifier(MLP, max_epochs=1, optimizer__momentum=0, optimizer__weight_decay=0.0,
                            criterion__label_smoothing=0.1, random_state=0).fit(X, y)
    assert np.isfinite(est.predict_proba(X)).all()


# Guards: these parameters were already refused (a chained comparison is False for NaN);
# they stay refused.
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_image_loader_crop_bottom_is_finite(bad):
    with pytest.raises(ValueError, match=r"^ImageLoader: crop_bottom must be a fraction of the "
                                         r"height in \[0, 1\), e\.g\. 0\.15, got -?(nan|inf)\.$"):
        ImageLoader(size=16, crop_bottom=bad).transform(np.zeros((1, 8, 8, 3), np.uint8))


@pytest.mark.parametrize("bad", [NAN, INF])
def test_weight_averaging_start_is_finite(bad, table):
    X, y = table
    est = SkinNetClassifier(MLP, max_epochs=2, callbacks=[WeightAveraging(start=bad)])
    with pytest.raises(ValueError, match=r"^WeightAveraging: start must be an int >= 1 .* or a "
                                         r"float in \(0, 1\] \(a fraction of max_epochs\), "
                                         r"got (nan|inf)\.$"):
        est.fit(X, y)


def test_pretrained_features_has_no_float_parameter_left_unchecked():
    from skin_estimators import PretrainedFeatures

    floats = [k for k, v in PretrainedFeatures().get_params().items() if isinstance(v, float)]
    assert floats == []  # nothing to check for NaN: a new float parameter needs a test here


# ---------------------------------------------------------------------------- object parameters
@pytest.mark.parametrize("key, value, expected", [
    ("optimizer", "sgd", r"optimizer must be a torch\.optim optimizer class, such as "
                         r"torch\.optim\.SGD, got 'sgd' \(optimizer=torch\.optim\.SGD\?\)\.$"),
    ("optimizer", "adamw", r"optimizer must .*got 'adamw' \(optimizer=torch\.optim\.AdamW\?\)\.$"),
    ("optimizer", "no-such", r"optimizer must be a torch\.optim optimizer class.*got 'no-such'\.$"),
    ("criterion", "cross_entropy", r"criterion must be a torch loss class or instance"),
])
def test_a_string_for_an_object_parameter_is_one_clear_line(key, value, expected, images):
    with pytest.raises(ValueError, match=rf"^VanillaCNNClassifier: {expected}") as info:
        VanillaCNNClassifier(max_epochs=1, **{key: value}).fit(*images)
    assert "\n" not in str(info.value) and "not callable" not in str(info.value)


def test_a_string_for_the_module_is_one_clear_line(table):
    with pytest.raises(ValueError, match=r"^SkinNetClassifier: module must be a torch\.nn\.Module "
                                         r"class or instance, got 'mlp'\.$"):
        SkinNetClassifier("mlp").fit(*table)


# ---------------------------------------------------------------------------- configs
def _config(folder, skin3_root, params=None, grid=None, **top):
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"name": "cnn", "params": {"max_epochs": 1, "batch_size": 4, "lr": 0.01,
                                       **(params or {})}}
    if grid:
        entry["grid"] = grid
    config = {"name": "tiny", "data": {"path": os.path.relpath(skin3_root, folder),
                                       "images_per_class": 6},
              "image_size": 16, "cv": {"n_splits": 2}, "threads": 1, "models": [entry], **top}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize("text, key, shown", [
    ("lr: .nan", "models[0].params.lr", "nan"),
    ("lr: .inf", "models[0].params.lr", "inf"),
    ("optimizer__momentum: .nan", "models[0].params.optimizer__momentum", "nan"),
    ("optimizer__betas: [0.9, -.inf]", "models[0].params.optimizer__betas", "-inf"),
])
def test_config_with_non_finite_param_is_refused(tmp_path, text, key, shown):
    path = tmp_path / "bad.yaml"
    path.write_text(f"data: fetch_skin3\nmodels:\n  - name: cnn\n    params: {{{text}}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: {key}: must be a finite number (got {shown})"


def test_config_with_non_finite_grid_value_or_reference_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: fetch_skin3\nmodels:\n  - name: cnn\n    grid: {lr: [0.01, .nan]}\n")
    with pytest.raises(ConfigError, match=r"models\[0\]\.grid\.lr: must be a finite number"):
        load_config(path)
    path.write_text("data: fetch_skin3\nmodels:\n  - name: cnn\n    reference: {recall: .nan}\n")
    with pytest.raises(ConfigError, match=r"models\[0\]\.reference\.recall: .*finite number"):
        load_config(path)


@pytest.mark.parametrize("command", ["cv", "train"])
def test_cli_refuses_a_config_with_lr_nan_exit_2(command, tmp_path, capsys):
    path = tmp_path / "nan.yaml"
    path.write_text("data: fetch_skin3\nimage_size: 16\n"
                    "models:\n  - name: cnn\n    params: {max_epochs: 1, lr: .nan}\n")
    out = tmp_path / "out"
    extra = ["--no-tracking"] if command == "cv" else []
    assert cli_main([command, "--config", str(path), "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage:") and len(err) == 2
    assert err[1] == (f"skin-estimators {command}: error: {path}: models[0].params.lr: "
                      "must be a finite number (got nan)")
    assert not out.exists()


# ---------------------------------------------------------------------------- tracking server
def _closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_tracking_server_fails_in_one_line_before_any_fold(
        tmp_path, skin3_root, capsys):
    config = _config(tmp_path / "cfg", skin3_root)
    out = tmp_path / "out"
    uri = f"http://127.0.0.1:{_closed_port()}"
    code = cli_main(["cv", "--config", str(config), "--out", str(out), "--tracking-uri", uri,
                     "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1, err
    assert err[0].startswith(f"skin-estimators cv: error: MLflow tracking server {uri} cannot "
                             "be reached (")
    assert "--no-tracking" in err[0] and "Traceback" not in err[0]
    assert not out.exists()  # nothing written, no image decoded, no fold run


def test_tracking_check_is_bounded_and_ignores_local_stores(monkeypatch):
    from skin_estimators.experiments import _tracking

    assert 0 < _tracking.TRACKING_CHECK_TIMEOUT_S <= 10
    calls = []
    monkeypatch.setattr(_tracking.urllib.request, "urlopen",
                        lambda url, timeout: calls.append((url, timeout)) or _Answer())
    for uri in ("sqlite:///x/mlflow.db", "file:///x/mlruns", "databricks", "/x/mlruns"):
        _tracking.check_tracking_uri(uri)
    assert calls == []
    _tracking.check_tracking_uri("https://mlflow.example:5000/")
    assert calls == [("https://mlflow.example:5000/health", _tracking.TRACKING_CHECK_TIMEOUT_S)]


class _Answer:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_proxy_answering_5xx_counts_as_unreachable(monkeypatch):
    import urllib.error

    from skin_estimators.experiments import _tracking

    def refuse(url, timeout):
        raise urllib.error.HTTPError(url, 503, "Service Unavailable", {}, None)

    monkeypatch.setattr(_tracking.urllib.request, "urlopen", refuse)
    with pytest.raises(ConnectionError, match=r"http://h:1 cannot be reached \(HTTP 503 Service "
                                              r"Unavailable\).*--no-tracking"):
        _tracking.check_tracking_uri("http://h:1")


# ---------------------------------------------------------------------------- folder lock
def _holder(folder):
    """A child process that holds ``folder``'s lock until its stdin is closed."""
    code = ("import sys\nfrom skin_estimators.experiments._lock import FolderLock\n"
            "lock = FolderLock(sys.argv[1]).acquire()\nprint('held', flush=True)\n"
            "sys.stdin.read()\n")  # ends without releasing: a crash, as far as the lock knows
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_second_cv_on_a_held_folder_is_refused_then_the_stale_lock_is_taken_over(
        tmp_path, skin3_root, capsys):
    config = _config(tmp_path / "cfg", skin3_root)
    out = tmp_path / "out"
    out.mkdir()
    child = _holder(out)
    try:
        args = ["cv", "--config", str(config), "--out", str(out), "--no-tracking", "--quiet"]
        assert cli_main(args + ["--resume"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith(f"skin-estimators cv: error: {out} is in use by another run "
                                 f"(PID {child.pid} on host {socket.gethostname()}")
        assert "--out" in err[0] and "wait until it ends" in err[0]
        assert not (out / "folds").exists()  # refused before any fold
    finally:
        child.stdin.close()
        child.wait()
    # The holder died without releasing: its lock file is stale and is taken over.
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == child.pid
    assert cli_main(args) == 0
    err = capsys.readouterr().err
    assert f"took over the stale lock of {out} (PID {child.pid}" in err
    assert (out / "results.csv").exists() and not (out / LOCK_NAME).exists()


def test_train_into_a_held_folder_is_refused_before_the_fit(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("data: fetch_skin3\nimage_size: 16\n"
                    "models:\n  - name: cnn\n    params: {max_epochs: 1}\n")
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out):
        assert cli_main(["train", "--config", str(path), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{out} is in use by another run (PID {os.getpid()}" in err[0]
    assert sorted(os.listdir(out)) == []


def test_lock_is_released_on_an_exception_and_on_ctrl_c(tmp_path, skin3_root, monkeypatch,
                                                        capsys):
    from skin_estimators.experiments import _runner

    with pytest.raises(RuntimeError), FolderLock(tmp_path):
        raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()

    def interrupted(*args, **kwargs):
        assert (out / LOCK_NAME).exists()  # held while the run runs
        raise KeyboardInterrupt

    monkeypatch.setattr(_runner, "plan_experiment", interrupted)
    config = _config(tmp_path / "cfg", skin3_root)
    out = tmp_path / "out"
    assert cli_main(["cv", "--config", str(config), "--out", str(out), "--no-tracking",
                     "--quiet"]) == 130
    assert not (out / LOCK_NAME).exists()
    notes = []
    FolderLock(out, note=notes.append).acquire().release()
    assert notes == []  # released cleanly: nothing stale to take over


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("flock", [True, False], ids=["flock", "pid-only"])
@pytest.mark.parametrize("holder", ["dead pid", "other host"])
def test_stale_lock_is_taken_over_with_a_note(tmp_path, monkeypatch, flock, holder):
    from skin_estimators.experiments import _lock

    assert _lock.LOCK_NAME == LOCK_NAME
    if not flock:
        monkeypatch.setattr(_lock, "fcntl", None)
    pid, host = ((_dead_pid(), socket.gethostname()) if holder == "dead pid"
                 else (os.getpid(), "another-host.example"))
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host}))
    notes = []
    with FolderLock(tmp_path, note=notes.append):
        mine = json.loads((tmp_path / LOCK_NAME).read_text())
        assert (mine["pid"], mine["host"]) == (os.getpid(), socket.gethostname())
    assert notes == [f"note: took over the stale lock of {tmp_path} (PID {pid} on host {host}, "
                     "no longer running)"]
    assert not (tmp_path / LOCK_NAME).exists()


def test_without_flock_a_live_pid_of_this_host_holds_the_folder(tmp_path, monkeypatch):
    from skin_estimators.experiments import _lock

    monkeypatch.setattr(_lock, "fcntl", None)
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": child.pid,
                                                      "host": socket.gethostname()}))
        refused = rf"in use by another run \(PID {child.pid}"
        with pytest.raises(_lock.FolderInUseError, match=refused):
            FolderLock(tmp_path).acquire()
    finally:
        child.stdin.close()
        child.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == child.pid  # left alone


def test_an_unwritable_folder_is_one_line_naming_it(tmp_path, monkeypatch):
    from skin_estimators.experiments import _lock

    real_open = os.open

    def refuse(path, *args, **kwargs):
        if os.fspath(path).endswith(LOCK_NAME):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_lock.os, "open", refuse)  # a read-only folder, even for root
    with pytest.raises(PermissionError) as info:
        FolderLock(tmp_path).acquire()
    assert str(info.value) == (f"cannot write the lock file in {tmp_path} (Permission denied): "
                               "give a writable output folder (--out)")
