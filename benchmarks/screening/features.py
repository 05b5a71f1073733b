"""Screening for issue 8 (not a library API): fixed scattering of the 102 images and their mirrors.

usage: SKIN_ESTIMATORS_DATA=../shared/data [J=2] [SIZE=400] [COLOR=study|grayworld|perimage]
       [RESIZE=stretch|crop] python benchmarks/screening/features.py NAME
Writes $SCREEN_DIR/feat_NAME.pt (default /tmp/screen): float16 coefficients of every image and
of its mirror, labels and atlas pages. The protocol is that of ../shared/tools/
floor_scattering_linear.py (bilinear resize, the study's fixed mean/std), with the library's
Scattering2D (equal to kymatio's, faster). Then screen tops on them with tops.py.
"""
import sys, time, glob, os, re, numpy as np, torch
from PIL import Image
torch.set_num_threads(int(os.environ.get("T", "1")))
from skin_estimators.networks import Scattering2D
name = sys.argv[1]; J = int(os.environ.get("J", 2)); size = int(os.environ.get("SIZE", 400))
color = os.environ.get("COLOR", "study")   # study | grayworld | perimage
resize = os.environ.get("RESIZE", "stretch")
root = os.path.join(os.environ.get("SKIN_ESTIMATORS_DATA", "../shared/data"), "skin3")
out_dir = os.environ.get("SCREEN_DIR", "/tmp/screen"); os.makedirs(out_dir, exist_ok=True); classes = sorted(os.listdir(root))
paths, y, g = [], [], []
for i, c in enumerate(classes):
    for p in sorted(glob.glob(f"{root}/{c}/*")):
        paths.append(p); y.append(i); g.append(re.match(r"(\d+-\d+)", os.path.basename(p)).group(1))
mean = np.array([0.6475, 0.4907, 0.4165]); std = np.array([0.1875, 0.1598, 0.1460])
def load(p):
    im = Image.open(p).convert("RGB")
    if resize == "crop":
        w, h = im.size; s = min(w, h); im = im.crop(((w - s)//2, (h - s)//2, (w - s)//2 + s, (h - s)//2 + s))
    a = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255
    if color == "grayworld":
        a = a * (a.reshape(-1, 3).mean(0).mean() / a.reshape(-1, 3).mean(0))
        a = np.clip(a, 0, 1)
    if color == "perimage":
        a = (a - a.reshape(-1, 3).mean(0)) / (a.reshape(-1, 3).std(0) + 1e-3)
        return a.transpose(2, 0, 1)
    return ((a - mean) / std).transpose(2, 0, 1)
X = np.stack([load(p) for p in paths]).astype(np.float32)
S = Scattering2D(J, (size, size), 8, 2, learnable=False)
t = time.time()
with torch.no_grad():
    F = torch.cat([S(torch.from_numpy(X[i:i+4])).half() for i in range(0, len(X), 4)])
    Ff = torch.cat([S(torch.from_numpy(X[i:i+4][..., ::-1].copy())).half() for i in range(0, len(X), 4)])
print(name, F.shape, "features", round(time.time() - t, 1), "s", flush=True)
torch.save({"F": F, "Ff": Ff, "y": np.array(y), "g": np.array(g)}, os.path.join(out_dir, f"feat_{name}.pt"))
