"""evaluate warns when it is given exactly the photos the model was trained on."""

import numpy as np
from PIL import Image

from skin_estimators.cli import main


def _folder(root, n, seed):
    rng = np.random.RandomState(seed)
    for cls in ("acne", "lichen_planus"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.randint(0, 256, (20, 24, 3), dtype=np.uint8)).save(
                root / cls / f"p{i}.png")
    return root


def test_evaluate_on_the_training_photos_warns(tmp_path, capsys):
    data = _folder(tmp_path / "photos", 4, 0)
    config = tmp_path / "tiny.yaml"
    config.write_text(f"data: {{path: {data}}}\nimage_size: 16\nmodels:\n  - name: cnn\n"
                      "    params: {max_epochs: 1, batch_size: 4}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"),
                 "--test-size", "0", "--quiet"]) == 0
    model = str(tmp_path / "run" / "model.safetensors")
    capsys.readouterr()
    assert main(["evaluate", model, str(data), "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "photos the model was trained on" in err
    report = (tmp_path / "ev" / "report.txt").read_text()
    assert report.startswith("Warning: these are the photos the model was trained on")

    # One photo more: not the training set any longer, no warning.
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(data / "acne" / "extra.png")
    assert main(["evaluate", model, str(data), "--out", str(tmp_path / "ev2"), "--quiet"]) == 0
    assert "trained on" not in capsys.readouterr().err
    assert not (tmp_path / "ev2" / "report.txt").read_text().startswith("Warning")
