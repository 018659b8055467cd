"""A scikit-learn model server as ML teams write them: Flask, no authentication, no limits.

It answers the three request shapes palisade guard understands, so one server exercises
them all:
  POST /predict                          {"features": [[64 pixels], ...]} -> {"predictions": [...]}
  POST /v1/models/digits:predict         TF Serving REST: {"instances": [...]} -> {"predictions": [...]}
  POST /v1/models/digits:classify        TF Serving REST: {"examples": [{"px0": v, ...}], "context": {...}}
                                         -> {"results": [[["0", score], ... ["9", score]], ...]}
  GET  /v2/models/digits                 KServe v2 model metadata
  POST /v2/models/digits/infer           KServe v2: {"inputs": [{"name", "shape", "datatype", "data"}]}
  GET  /health

Usage: python server.py --port 8501 [--variant clean|swapped] [--delay-ms N]
"""

import argparse
import time

import numpy as np
from flask import Flask, jsonify, request

import digits

app = Flask(__name__)
MODEL = None
DELAY = 0.0


def wait():
    """The slow model server of the noisy-neighbour scenario (--delay-ms)."""
    if DELAY:
        time.sleep(DELAY)


def answer(rows):
    wait()
    x = np.asarray(rows, dtype=float)
    if x.ndim != 2 or x.shape[1] != 64:
        return None
    return [int(p) for p in digits.predict(MODEL, x)]


@app.after_request
def headers_seen(response):
    # What the guard told us about the caller (the tests check that clients cannot forge it),
    # which of a client's hop-by-hop fields reached us (the tests check none do), and the
    # names of any credentials that reached us (the tests check the guard keeps them).
    response.headers["X-Seen-Tenant"] = ",".join(request.headers.getlist("X-Palisade-Tenant"))
    response.headers["X-Seen-Trace"] = ",".join(request.headers.getlist("X-Trace"))
    credentials = ("Authorization", "Proxy-Authorization", "X-Api-Key")
    response.headers["X-Seen-Credentials"] = ",".join(c for c in credentials if c in request.headers)
    return response


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.post("/predict")
def predict():
    preds = answer(request.get_json(force=True)["features"])
    if preds is None:
        return jsonify(error="expected rows of 64 pixels"), 400
    return jsonify(predictions=preds)


@app.post("/v1/models/digits:predict")
def tf_predict():
    body = request.get_json(force=True)
    preds = answer(body.get("instances", body.get("inputs")))
    if preds is None:
        return jsonify(error="expected instances of 64 pixels"), 400
    return jsonify(predictions=preds)


@app.post("/v1/models/digits:classify")
def tf_classify():
    # tf.Example features by name; a feature in "context" is shared by every example.
    body = request.get_json(force=True)
    context = body.get("context", {})
    names = [f"px{i}" for i in range(64)]
    try:
        rows = [[float(np.ravel({**context, **e}[n])[0]) for n in names] for e in body["examples"]]
    except (KeyError, TypeError, ValueError, IndexError):
        return jsonify(error="expected examples with features px0..px63"), 400
    wait()
    classes = [str(c) for c in MODEL.classes_]
    scored = digits.scores(MODEL, rows)
    return jsonify(results=[[[c, float(p)] for c, p in zip(classes, row)] for row in scored])


@app.get("/v2/models/digits")
def v2_metadata():
    return jsonify(
        name="digits",
        versions=["1"],
        platform="sklearn",
        inputs=[{"name": "pixels", "datatype": "FP64", "shape": [-1, 64]}],
        outputs=[{"name": "label", "datatype": "INT64", "shape": [-1, 1]}],
    )


@app.post("/v2/models/digits/infer")
def v2_infer():
    t = request.get_json(force=True)["inputs"][0]
    rows = np.asarray(t["data"], dtype=float).reshape(t["shape"])
    preds = answer(rows)
    if preds is None:
        return jsonify(error="expected shape [n, 64]"), 400
    return jsonify(
        model_name="digits",
        outputs=[{"name": "label", "datatype": "INT64", "shape": [len(preds), 1], "data": preds}],
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--variant", default="clean", choices=["clean", "swapped"])
    ap.add_argument("--delay-ms", type=float, default=0.0)
    args = ap.parse_args()
    MODEL = digits.train(args.variant)
    DELAY = args.delay_ms / 1000.0
    app.run(host="127.0.0.1", port=args.port, threaded=True)
