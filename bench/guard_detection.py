#!/usr/bin/env python3
"""Detection quality of palisade guard's out-of-distribution screening on scikit-learn's digits.

  bench/guard_detection.py [--palisade target/release/palisade] [--python-path examples/guard]

Trains the example model (examples/guard/digits.py: logistic regression on 8x8 digits), builds
a profile from the training split with `palisade guard profile`, and scores, with
`palisade guard score` (the guard's own code), the clean test digits and adversarial versions of
them: FGSM and PGD (L-infinity, white-box, gradient in closed form) at several budgets, and an
*adaptive* PGD that knows the detector and minimises the Mahalanobis distance while it attacks.
Reports ROC AUC and the true-positive rate at 1% false positives (threshold: the 99th
percentile of clean test distances), plus the rate at the profile's own held-out p99 threshold
(what `flag_above = "p99"` does in production), for several shrinkage settings.

Run it with a Python that has scikit-learn and numpy (scripts/test makes .venv-guard).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "examples", "guard"))
import digits  # noqa: E402


def roc_auc(neg, pos):
    """Probability that a positive scores above a negative (ties count half)."""
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    equal = np.searchsorted(neg, pos, side="right") - below
    return float((below + 0.5 * equal).sum() / (len(neg) * len(pos)))


def score(palisade, profile, rows, tmp):
    path = os.path.join(tmp, "rows.csv")
    np.savetxt(path, rows, delimiter=",", fmt="%.6g")
    out = subprocess.run([palisade, "guard", "score", "--profile", profile, "--data", path],
                         check=True, capture_output=True, text=True).stdout
    return np.array([float(line.split(",")[0]) for line in out.splitlines()[1:]])


def inverse_covariance(profile):
    d = profile["features"]
    chol = np.zeros((d, d))
    k = 0
    for i in range(d):
        for j in range(i + 1):
            chol[i, j] = profile["cholesky"][k]
            k += 1
    inv_l = np.linalg.inv(chol)
    return inv_l.T @ inv_l, np.array(profile["mean"])


def adaptive_pgd(model, x, y, eps, prec, mean, weight, steps=40):
    """PGD on cross-entropy minus `weight` x squared Mahalanobis distance: an attacker who
    knows the profile and steers towards inputs that look like training data."""
    alpha = eps / 8
    adv = x.copy()
    for _ in range(steps):
        g_ce = digits._gradient(model, adv, y)
        g_md = 2 * (adv - mean) @ prec
        g = g_ce / (np.abs(g_ce).mean(axis=1, keepdims=True) + 1e-12) \
            - weight * g_md / (np.abs(g_md).mean(axis=1, keepdims=True) + 1e-12)
        adv = adv + alpha * np.sign(g)
        adv = np.clip(np.clip(adv, x - eps, x + eps), 0.0, digits.PIXEL_MAX)
    return adv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--palisade", default=os.path.join(here, "..", "target", "release", "palisade"))
    args = ap.parse_args()
    x_train, x_test, y_train, y_test = digits.split()
    model = digits.train("clean")
    base_acc = float((digits.predict(model, x_test) == y_test).mean())
    print(f"digits: {len(x_train)} training rows, {len(x_test)} test rows; model accuracy {base_acc:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        train_csv = os.path.join(tmp, "train.csv")
        np.savetxt(train_csv, x_train, delimiter=",", fmt="%g")
        attacks = []
        for eps in (1.0, 2.0, 3.0, 4.0):
            attacks.append((f"FGSM eps={eps:g}", digits.fgsm(model, x_test, y_test, eps)))
        for eps in (2.0, 4.0):
            attacks.append((f"PGD eps={eps:g} (10 steps)", digits.pgd(model, x_test, y_test, eps)))
        print()
        print("| shrinkage | attack | model accuracy under attack | ROC AUC | TPR at 1% FPR | TPR at profile p99 (clean flagged) |")
        print("|---|---|---|---|---|---|")
        for shrink in ("0.001", "0.01", "ledoit-wolf"):
            profile_path = os.path.join(tmp, f"profile-{shrink}.json")
            subprocess.run([args.palisade, "guard", "profile", "--data", train_csv, "--shrinkage", shrink,
                            "--out", profile_path], check=True, capture_output=True)
            profile = json.load(open(profile_path))
            p99 = np.interp(0.99, np.linspace(0, 1, 1001), profile["distance_quantiles"])
            clean = score(args.palisade, profile_path, x_test, tmp)
            thr = np.percentile(clean, 99)
            runs = list(attacks)
            prec, mean = inverse_covariance(profile)
            for w in (0.5, 2.0):
                runs.append((f"adaptive PGD eps=4, weight {w:g} (knows the profile)",
                             adaptive_pgd(model, x_test, y_test, 4.0, prec, mean, w)))
            label = f"{shrink} (α={profile['shrinkage']:.4f})"
            for name, adv in runs:
                acc = float((digits.predict(model, adv) == y_test).mean())
                d = score(args.palisade, profile_path, adv, tmp)
                print(f"| {label} | {name} | {acc:.3f} | {roc_auc(clean, d):.3f} | {(d > thr).mean():.3f} | "
                      f"{(d > p99).mean():.3f} ({(clean > p99).mean():.3f}) |")


if __name__ == "__main__":
    main()
