"""Screening for issue 8: BatchNorm + linear tops on cached fixed scattering (see features.py).

usage: python benchmarks/screening/tops.py NAME [key=value ...]
keys: lr bs epochs (study: 0.0091 4 22), pool (average-pool the coefficient maps), log,
shift (random translation of the maps, in coefficients), tta (mirror test-time augmentation),
ens (members averaged, seeds 42..), mom, wd, onecycle, cos, mixup, ls (label smoothing),
swa (average the weights of the last N epochs), seeds (CV seeds, comma-separated), proto.
Prints the macro recall per CV seed and protocol and the mean over seeds; one thread.
"""
import os
import sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as Fn
from sklearn.model_selection import StratifiedKFold, StratifiedGroupKFold
from sklearn.metrics import recall_score
from sklearn.utils.class_weight import compute_class_weight
torch.set_num_threads(1)
feat = sys.argv[1]
o = dict(lr=0.0091, bs=4, epochs=22, log=0, pool=1, shift=0, tta=0, ens=1, mom=0.0, wd=0.0,
         onecycle=0, mixup=0.0, ls=0.0, seeds="42,7", proto="both", dropout=0.0, eps=1e-2, rot=0, swa=0, cos=0)
for a in sys.argv[2:]:
    k, v = a.split("="); o[k] = type(o[k])(v) if not isinstance(o[k], str) else v
d = torch.load(os.path.join(os.environ.get("SCREEN_DIR", "/tmp/screen"), f"feat_{feat}.pt"), weights_only=False)
y, g = d["y"], d["g"]
def prep(F):
    F = F.float()
    if o["pool"] > 1: F = Fn.avg_pool2d(F, o["pool"])
    if o["log"]: F = torch.log(F.abs() + o["eps"])
    return F.half()
F, Ff = prep(d["F"]), prep(d["Ff"])
C, H, W = F.shape[1:]
def shift(x, s):
    if s == 0: return x
    n = x.shape[0]; xp = Fn.pad(x, (s, s, s, s), mode="replicate"); out = torch.empty_like(x)
    for i in range(n):
        dy, dx = np.random.randint(0, 2 * s + 1, 2); out[i] = xp[i, :, dy:dy + H, dx:dx + W]
    return out
def fit_predict(tr, te, seed):
    torch.manual_seed(seed); np.random.seed(seed)
    net = nn.Sequential(nn.BatchNorm2d(C), nn.Flatten(), nn.Dropout(o["dropout"]), nn.Linear(C * H * W, 3))
    w = torch.tensor(compute_class_weight("balanced", classes=np.unique(y), y=y[tr]), dtype=torch.float)
    opt = torch.optim.SGD(net.parameters(), lr=o["lr"], momentum=o["mom"], weight_decay=o["wd"])
    steps = o["epochs"] * (len(tr) // o["bs"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, o["lr"], total_steps=steps + 5) if o["onecycle"] else None
    if o["cos"]: sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps + 1)
    avg = torch.optim.swa_utils.AveragedModel(net, use_buffers=True) if o["swa"] else None
    for ep in range(o["epochs"]):
        net.train(); perm = np.random.permutation(tr)
        for i in range(0, len(perm) - o["bs"] + 1, o["bs"]):
            b = perm[i:i + o["bs"]]
            flip = np.random.rand(len(b)) < 0.5
            xb = torch.stack([(Ff if f else F)[j] for j, f in zip(b, flip)]).float()
            xb = shift(xb, o["shift"])
            yb = torch.from_numpy(y[b])
            if o["mixup"] > 0:
                lam = np.random.beta(o["mixup"], o["mixup"]); p = torch.randperm(len(b))
                xb = lam * xb + (1 - lam) * xb[p]; out = net(xb)
                loss = lam * Fn.cross_entropy(out, yb, weight=w, label_smoothing=o["ls"]) + (1 - lam) * Fn.cross_entropy(out, yb[p], weight=w, label_smoothing=o["ls"])
            else:
                loss = Fn.cross_entropy(net(xb), yb, weight=w, label_smoothing=o["ls"])
            opt.zero_grad(); loss.backward(); opt.step()
            if sched: sched.step()
        if avg is not None and ep >= o["epochs"] - o["swa"]: avg.update_parameters(net)
    if avg is not None: net = avg.module
    net.eval()
    with torch.no_grad():
        p = net(F[te].float()).softmax(1)
        if o["tta"]: p = (p + net(Ff[te].float()).softmax(1)) / 2
    return p.numpy()
t0 = time.time(); res = {}
for seed in [int(s) for s in o["seeds"].split(",")]:
    for proto in (["stratified", "group"] if o["proto"] == "both" else [o["proto"]]):
        cv = StratifiedKFold(5, shuffle=True, random_state=seed) if proto == "stratified" else StratifiedGroupKFold(5, shuffle=True, random_state=seed)
        recs = []
        for tr, te in cv.split(np.zeros(len(y)), y, g):
            p = sum(fit_predict(tr, te, 42 + k) for k in range(o["ens"]))
            recs.append(recall_score(y[te], p.argmax(1), average="macro"))
        res.setdefault(proto, []).append(np.mean(recs))
        print(f"  seed {seed} {proto}: {np.mean(recs):.3f} ± {np.std(recs):.3f}", flush=True)
args = " ".join(sys.argv[2:])
print(f"RESULT {feat} {args or 'baseline'}: strat {np.mean(res.get('stratified',[np.nan])):.3f} group {np.mean(res.get('group',[np.nan])):.3f}  ({time.time()-t0:.0f} s)", flush=True)
