"""Variants of TrustedClassifier on the trust study's cached features (controlled protocol):
how the sets are made (refitted model, mean of the fold models, cross-conformal), which
calibration map, which out-of-scope detector (with the image-geometry baseline), and the ECE
noise floor at n=102. Run benchmarks/trust_study.py first (it caches the features); prints
markdown tables (kept in benchmarks/results/trust_variants.md).

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/trust_variants.py
"""
import os, sys, numpy as np, warnings; warnings.simplefilter("ignore")
from scipy.optimize import minimize
from scipy.special import logsumexp, log_softmax, softmax
from sklearn.decomposition import PCA
from sklearn.metrics import log_loss, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.preprocessing import StandardScaler, normalize
from threadpoolctl import threadpool_limits
threadpool_limits(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trust_study as ts
from skin_estimators import fetch_skin3
from skin_estimators.audit._properties import file_properties
from skin_estimators.uncertainty import classwise_ece, coverage
from skin_estimators.uncertainty._calibration import (_GivenProbabilities, apply_calibration,
                                                      fit_calibration)
from skin_estimators.uncertainty._conformal import (conformal_quantiles, lac_scores,
                                                    prediction_sets)
from skin_estimators.uncertainty._out_of_scope import fit_mahalanobis, mahalanobis_score
d = fetch_skin3(); Y = np.asarray(d.target); G = np.asarray(d.groups)
X, far = ts.features(os.path.expanduser("~/.cache/skin_estimators_trust_study"))
classes, yenc = np.unique(Y, return_inverse=True)
K = len(classes)
K = len(classes)
def head(C=None):
    h = ts.head()
    if C is not None: h.set_params(logisticregression__C=C)
    return h
def cross_conf_sets(fold_test_scores, cal_scores_per_fold, cal_y_per_fold, level, mondrian=True):
    # fold_test_scores: list of (m, K) arrays of 1-p for each fold model; cal: scores of OOF in that fold
    m = fold_test_scores[0].shape[0]
    n_tot = np.zeros(K); cnt = np.zeros((m, K))
    for s, cs, cy in zip(fold_test_scores, cal_scores_per_fold, cal_y_per_fold):
        for k in range(K):
            ref = cs[cy == k] if mondrian else cs
            cnt[:, k] += (ref[None, :] >= s[:, k][:, None]).sum(1)
            n_tot[k] += len(ref)
    p = (1 + cnt) / (1 + n_tot[None, :])
    return p > 1 - level
VAR = ["refit", "refit_temp", "ensemble", "crossconf", "crossconf_temp", "crossconf_sigmoid"]
res = {v: [] for v in VAR}
for seed in ts.SEEDS:
    out = {v: (np.zeros((len(Y), K)), np.zeros((len(Y), K), bool)) for v in VAR}
    for tr, te in ts.outer(seed).split(X, Y, G):
        Xtr, ytr, gtr = X[tr], yenc[tr], G[tr]
        inner = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
        oof = np.zeros((len(tr), K)); models = []; folds = []
        for a, b in inner.split(Xtr, ytr, gtr):
            m = head().fit(Xtr[a], ytr[a]); models.append(m); folds.append(b)
            oof[b] = m.predict_proba(Xtr[b])
        refit = head().fit(Xtr, ytr)
        n_in = np.mean([len(tr) - len(b) for b in folds])
        refitC = head(0.01 * n_in / len(tr)).fit(Xtr, ytr)
        ens = np.mean([m.predict_proba(X[te]) for m in models], 0)
        for v in VAR:
            if v.startswith("crossconf"):
                method = "temperature" if v.endswith("temp") else "sigmoid" if v.endswith("sigmoid") else None
                params = fit_calibration(oof, ytr, method)
                cal_oof = apply_calibration(oof, method, params)
                sc = [1 - apply_calibration(m.predict_proba(X[te]), method, params) for m in models]
                cal = [lac_scores(cal_oof[b], ytr[b]) for b in folds]
                cy = [ytr[b] for b in folds]
                out[v][1][te] = cross_conf_sets(sc, cal, cy, ts.LEVEL)
                out[v][0][te] = apply_calibration(ens, method, params); continue
            method = "temperature" if v.endswith("temp") else "sigmoid" if v.endswith("sigmoid") else None
            params = fit_calibration(oof, ytr, method)
            cal = apply_calibration(oof, method, params)
            q = conformal_quantiles(cal, ytr, ts.LEVEL, True)
            raw = ens if v.startswith("ensemble") else refitC.predict_proba(X[te]) if v == "refit_C0.8" else refit.predict_proba(X[te])
            p = apply_calibration(raw, method, params)
            out[v][0][te] = p; out[v][1][te] = prediction_sets(p, q)
    for v in VAR:
        p, s = out[v]
        cov, pc = coverage(Y, s, classes)
        res[v].append((cov, *pc, s.sum(1).mean(), classwise_ece(Y, p, classes)[0], log_loss(Y, p, labels=classes), recall_score(Y, classes[p.argmax(1)], average='macro')))
print("\n## Coverage at 0.9 (Mondrian), by how the sets are made\n\n| variant | coverage (seeds 0 / 1 / 2) | acne / herpes / lichen | set size | ECE | log loss | macro recall |\n|---|---|---|---|---|---|---|")
for v in VAR:
    r = np.mean(res[v], 0)
    seeds = " / ".join(f"{x[0]:.3f}" for x in res[v])
    print(f"| {v} | {r[0]:.3f} ({seeds}) | {r[1]:.2f} / {r[2]:.2f} / {r[3]:.2f} | {r[4]:.2f} | {r[5]:.3f} | {r[6]:.3f} | {r[7]:.3f} |")
def fit_bcts(p, y):
    L = np.log(p + 1e-12)
    def f(t):
        z = t[0] * L + np.r_[0, t[1:]][None]
        return -log_softmax(z, 1)[np.arange(len(y)), y].mean()
    return minimize(f, np.r_[1.0, np.zeros(K - 1)], method="L-BFGS-B").x
def app_bcts(p, t):
    return softmax(t[0] * np.log(p + 1e-12) + np.r_[0, t[1:]][None], 1)
def iso(p, y):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    c = CalibratedClassifierCV(FrozenEstimator(_GivenProbabilities().fit(p, y)), method="isotonic", cv=2).fit(p, y)
    return c
VAR = ["none", "temperature", "sigmoid", "temp+bias", "isotonic"]
res = {(m, src): [] for m in VAR for src in ("refit", "ensemble")}
for seed in ts.SEEDS:
    P = {k: np.zeros((len(Y), K)) for k in res}
    for tr, te in ts.outer(seed).split(X, Y, G):
        Xtr, ytr, gtr = X[tr], yenc[tr], G[tr]
        oof = np.zeros((len(tr), K)); models = []
        for a, b in StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(Xtr, ytr, gtr):
            m = ts.head().fit(Xtr[a], ytr[a]); models.append(m); oof[b] = m.predict_proba(Xtr[b])
        raws = {"refit": ts.head().fit(Xtr, ytr).predict_proba(X[te]),
                "ensemble": np.mean([m.predict_proba(X[te]) for m in models], 0)}
        for m in VAR:
            for src, raw in raws.items():
                if m in ("none", "temperature", "sigmoid"):
                    meth = None if m == "none" else m
                    P[(m, src)][te] = apply_calibration(raw, meth, fit_calibration(oof, ytr, meth))
                elif m == "temp+bias":
                    P[(m, src)][te] = app_bcts(raw, fit_bcts(oof, ytr))
                else:
                    P[(m, src)][te] = iso(oof, ytr).predict_proba(raw)
    for k in res:
        p = np.clip(P[k], 1e-15, 1); p = p / p.sum(1, keepdims=True)
        e, pc = classwise_ece(Y, p, classes)
        res[k].append((e, *pc, log_loss(Y, p, labels=classes)))
print("\n## Calibration maps (fitted on the inner out-of-fold probabilities)\n\n| calibration | probabilities of | classwise ECE | acne / herpes / lichen | log loss |\n|---|---|---|---|---|")
for k in res:
    r = np.mean(res[k], 0)
    print(f"| {k[0]} | {k[1]} | {r[0]:.3f} | {r[1]:.3f} / {r[2]:.3f} / {r[3]:.3f} | {r[4]:.3f} |")
# noise floor
rng = np.random.RandomState(0); fl = []
for _ in range(2000):
    p = rng.dirichlet(np.ones(3) * 1.0, 102)
    y = np.array([rng.choice(3, p=r) for r in p])
    fl.append(classwise_ece(y, p, [0, 1, 2])[0])
print(f"\nECE noise floor: perfectly calibrated Dirichlet(1,1,1) probabilities, labels drawn from them, 102 samples, 10 bins, 2000 draws: mean {np.mean(fl):.3f} (5-95 %: {np.percentile(fl, 5):.3f}-{np.percentile(fl, 95):.3f})")
props, _ = file_properties(list(d.filenames))
GEO = np.hstack([props[k] for k in ("file_size", "width", "height", "aspect")])
def detectors(Ftr, ytr, Fte, model=None):
    out = {}
    sc = StandardScaler().fit(Ftr); A, B = sc.transform(Ftr), sc.transform(Fte)
    _, ye = np.unique(ytr, return_inverse=True); k = ye.max() + 1
    out["mahalanobis"] = mahalanobis_score(B, *fit_mahalanobis(A, ye, k))
    # relative: minus the background (one class) Mahalanobis
    bg = mahalanobis_score(B, *fit_mahalanobis(A, np.zeros(len(A), int), 1))
    out["rel_mahalanobis"] = out["mahalanobis"] - bg
    for kk in (1, 5, 10):
        An, Bn = normalize(A), normalize(B)
        nn = NearestNeighbors(n_neighbors=kk).fit(An)
        out[f"knn{kk}"] = nn.kneighbors(Bn)[0][:, -1]
    nn = NearestNeighbors(n_neighbors=5).fit(normalize(Ftr))
    out["knn5_rawnorm"] = nn.kneighbors(normalize(Fte))[0][:, -1]
    out["lof"] = -LocalOutlierFactor(n_neighbors=min(20, len(A) - 1), novelty=True).fit(A).score_samples(B)
    for nc in ((5, 10, 20) if A.shape[1] > 20 else ()):
        p = PCA(nc).fit(A); Ap, Bp = p.transform(A), p.transform(B)
        out[f"maha_pca{nc}"] = mahalanobis_score(Bp, *fit_mahalanobis(Ap, ye, k))
    if model is not None:
        z = model.decision_function(Fte)
        out["energy"] = -logsumexp(z, 1)
        out["max_logit"] = -z.max(1)
        out["max_proba"] = 1 - model.predict_proba(Fte).max(1)
    return out
res, geo = {}, {}
for c in classes:
    inside, held = np.flatnonzero(Y != c), np.flatnonzero(Y == c)
    for seed in ts.SEEDS:
        for tr, te in ts.outer(seed).split(X[inside], Y[inside], G[inside]):
            tr, te = inside[tr], inside[te]
            model = ts.head().fit(X[tr], Y[tr])
            # LR decision on 2 classes is 1-d: emulate energy with 2 logits
            class M:
                def decision_function(s, F):
                    z = model.decision_function(F); return np.c_[-z / 2, z / 2] if z.ndim == 1 else z
                def predict_proba(s, F): return model.predict_proba(F)
            truth = np.r_[np.zeros(len(te)), np.ones(len(held))]
            sc = detectors(X[tr], Y[tr], np.r_[X[te], X[held]], M())
            for k_, v in sc.items(): res.setdefault(k_, {}).setdefault(c, []).append(roc_auc_score(truth, v))
            sg = detectors(GEO[tr], Y[tr], np.r_[GEO[te], GEO[held]])
            for k_, v in sg.items(): geo.setdefault(k_, {}).setdefault(c, []).append(roc_auc_score(truth, v))
# far
farres = {}
for seed in ts.SEEDS:
    for tr, te in ts.outer(seed).split(X, Y, G):
        model = ts.head().fit(X[tr], Y[tr])
        truth = np.r_[np.zeros(len(te)), np.ones(len(far))]
        sc = detectors(X[tr], Y[tr], np.r_[X[te], far], model)
        for k_, v in sc.items(): farres.setdefault(k_, []).append(roc_auc_score(truth, v))
print("\n## Out-of-scope detectors: leave-one-class-out AUROC (features), geometry baseline (same detector on file size, width, height, aspect), far AUROC\n")
print("| detector | " + " | ".join(classes) + " | mean | geometry " + " / ".join(classes) + " | far (min) |\n|---|---|---|---|---|---|---|")
for k_ in res:
    m = [np.mean(res[k_][c]) for c in classes]
    g = [np.mean(geo[k_][c]) for c in classes] if k_ in geo else None
    gs = " / ".join(f"{x:.2f}" for x in g) if g else "-"
    print(f"| {k_} | " + " | ".join(f"{x:.3f}" for x in m) + f" | {np.mean(m):.3f} | {gs} | {np.mean(farres[k_]):.3f} ({np.min(farres[k_]):.3f}) |")
