"""The example model: scikit-learn's digits (8x8 images, pixel values 0-16, shipped with
scikit-learn) and a multinomial logistic regression, trained the same way every time.

Also the attacks used by the demo and by bench/guard_detection.py: FGSM and PGD against this
model, with the gradient of the cross-entropy loss computed in closed form (for softmax
regression, d loss / d x = W^T (p - onehot(y))).
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

PIXEL_MAX = 16.0


def split():
    """(x_train, x_test, y_train, y_test), the same split every time."""
    x, y = load_digits(return_X_y=True)
    return train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)


def train(variant="clean"):
    """The served model. `swapped` is the attack scenario: a model trained with one class's
    labels poisoned (7s labelled 1), a drop-in replacement with nearly the same accuracy."""
    x_train, _, y_train, _ = split()
    y = np.array(y_train)
    if variant == "swapped":
        y = y.copy()
        y[y == 7] = 1
    model = LogisticRegression(max_iter=2000, random_state=0)
    model.fit(x_train / PIXEL_MAX, y)
    return model


def predict(model, x):
    return model.predict(np.asarray(x, dtype=float) / PIXEL_MAX)


def scores(model, x):
    """Each class's probability for inputs x (pixel scale), in the order of model.classes_."""
    return model.predict_proba(np.asarray(x, dtype=float) / PIXEL_MAX)


def _gradient(model, x, y):
    """d cross-entropy / d x for inputs x (pixel scale) with true labels y."""
    p = scores(model, x)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), np.searchsorted(model.classes_, y)] = 1.0
    return (p - onehot) @ model.coef_ / PIXEL_MAX


def fgsm(model, x, y, eps):
    """One signed-gradient step of size eps (pixel units), clipped to the valid pixel range."""
    return np.clip(x + eps * np.sign(_gradient(model, x, y)), 0.0, PIXEL_MAX)


def pgd(model, x, y, eps, steps=10, alpha=None):
    """Projected gradient descent in the L-infinity ball of radius eps."""
    alpha = alpha or eps / 4
    adv = x.copy()
    for _ in range(steps):
        adv = adv + alpha * np.sign(_gradient(model, adv, y))
        adv = np.clip(np.clip(adv, x - eps, x + eps), 0.0, PIXEL_MAX)
    return adv
