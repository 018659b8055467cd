"""Writes what the guard needs for the digits model into DIR (default: ./data):

  train.csv         the training features (64 pixel columns), for `palisade guard profile`
  predictions.csv   the approved model's predictions on them (the drift reference)
  control.json      the control set: 200 held-out digits, their labels and the approved
                    model's outputs (probe reference)
  clean.json        300 other held-out digits (normal traffic)
  adversarial.json  FGSM versions of those digits (eps = 3 pixel levels) against the model

Usage: python prepare.py [DIR]
"""

import json
import os
import sys

import numpy as np

import digits

out = sys.argv[1] if len(sys.argv) > 1 else "data"
os.makedirs(out, exist_ok=True)
x_train, x_test, y_train, y_test = digits.split()
model = digits.train("clean")

header = ",".join(f"px{i}" for i in range(64))
np.savetxt(os.path.join(out, "train.csv"), x_train, delimiter=",", header=header, comments="", fmt="%g")
np.savetxt(os.path.join(out, "predictions.csv"), digits.predict(model, x_train), fmt="%d")

control_x, control_y = x_test[:200], y_test[:200]
with open(os.path.join(out, "control.json"), "w") as f:
    json.dump(
        {
            "inputs": control_x.tolist(),
            "labels": [int(v) for v in control_y],
            "reference_outputs": [int(v) for v in digits.predict(model, control_x)],
        },
        f,
    )

clean_x, clean_y = x_test[200:500], y_test[200:500]
adv = digits.fgsm(model, clean_x, clean_y, eps=3.0)
for name, rows, labels in [("clean.json", clean_x, clean_y), ("adversarial.json", adv, clean_y)]:
    with open(os.path.join(out, name), "w") as f:
        json.dump({"rows": rows.tolist(), "labels": [int(v) for v in labels]}, f)

acc_clean = float((digits.predict(model, clean_x) == clean_y).mean())
acc_adv = float((digits.predict(model, adv) == clean_y).mean())
print(f"prepare: wrote {out}/ (model accuracy {acc_clean:.3f} clean, {acc_adv:.3f} under FGSM eps=3)")
