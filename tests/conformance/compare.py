"""PyTorch conformance: compiles an example with nnc, runs its generated
forward and training step through driver.c on the weights nnc initialised,
runs the PyTorch twin (models.py) on the same weights and inputs, and
compares logits, loss, every parameter gradient, the input gradient and
the parameters after one optimizer step.

  compare.py NAME WORKDIR      (env: NNC, CC, RUNTIME_INC, RUNTIME_LIB, SRCDIR)
Prints one PASS/FAIL line per comparison and exits 1 on any failure."""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402
from models import MODELS  # noqa: E402

TOL = 1e-4


def sh(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def build(name, nn_file, work, dtype):
    src = os.environ.get("SRCDIR", ".")
    c = os.path.join(work, f"{name}_{dtype}.c")
    sh(os.environ.get("NNC", "build/compiler/nnc"), os.path.join(src, nn_file),
       "--dtype", dtype, "-o", c)
    exe = os.path.join(work, f"{name}_{dtype}")
    prefix = name
    cflags = os.environ.get("CFLAGS", "-O1").split()
    sh(os.environ.get("CC", "cc"), "-std=c99", *cflags,
       "-I", os.environ.get("RUNTIME_INC", os.path.join(src, "runtime")),
       f"-DMODEL_DESC={prefix}_desc", "-include", c[:-2] + ".h", c,
       os.path.join(src, "tests/conformance/driver.c"),
       os.environ.get("RUNTIME_LIB", os.environ.get("NNCRT", "build/runtime/libnncrt.a")),
       *os.environ.get("LDFLAGS", "").split(),
       *os.environ.get("NNCRT_LIBS", "-lopenblas -lz -lm").split(), "-o", exe)
    return exe


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(b)))))


def main():
    name, work = sys.argv[1], sys.argv[2]
    cls, nn_file, make_inputs, make_opt = MODELS[name]
    os.makedirs(work, exist_ok=True)
    fails = 0
    exe = build(name, nn_file, work, "f32")
    w = os.path.join(work, "w.st")
    sh(exe, "init", "7", w)
    weights = st.read(w)
    g = torch.Generator().manual_seed(0)
    B = 5
    inputs = make_inputs(B, g)
    st.write(os.path.join(work, "in.st"),
             {k: v.numpy().astype(np.float32) if v.dtype == torch.float64 else v.numpy()
              for k, v in inputs.items()})
    model = cls().double()
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in weights.items()})
    outs = {}
    for entry in ("forward", "step"):
        o = os.path.join(work, f"{entry}.st")
        args = [exe, "run", w, entry, os.path.join(work, "in.st"), o]
        if entry == "step":
            args.append("--step")
        sh(*args, f"B={B}")
        outs[entry] = st.read(o)
    x = {k: v.clone() for k, v in inputs.items()}
    for k, v in x.items():
        if v.dtype == torch.float64:
            v.requires_grad_(True)
    logits = model.forward(x["x"])

    def check(what, got, want):
        nonlocal fails
        e = rel_err(got, want.detach().numpy())
        ok = e < TOL
        fails += not ok
        print(f"{'PASS' if ok else 'FAIL'}: {name} {what}: relative error {e:.2e}")

    check("logits", outs["forward"]["out.out0"], logits)
    loss = model.step_loss(x["x"], x["y"])
    loss.backward()
    check("loss", outs["step"]["out.loss"], loss)
    for pname, p in model.named_parameters():
        check(f"grad {pname}", outs["step"][f"grad.{pname}"], p.grad)
    check("input gradient", outs["step"]["dx.x"], x["x"].grad)
    # optimizer steps: PyTorch's optimizer, in float32, applied to the
    # gradients nnc computed (their accuracy is checked above), must move
    # the parameters where nnc's optimizer moved them
    for label, spec, make in OPTIMIZERS:
        o = os.path.join(work, "opt.st")
        sh(exe, "run", w, "step", os.path.join(work, "in.st"), o, "--step", "3",
           "--opt", spec, f"B={B}")
        got = st.read(o)
        m32 = cls()
        m32.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
        opt = make(m32.parameters())
        for k in range(3):
            tag = "grad" if k == 0 else f"grad@{k}"
            for n, p in m32.named_parameters():
                p.grad = torch.tensor(got[f"{tag}.{n}"])
            opt.step()
        worst = max(rel_err(got[f"param.{n}"], p.detach().numpy()) for n, p in m32.named_parameters())
        ok = worst < TOL
        fails += not ok
        print(f"{'PASS' if ok else 'FAIL'}: {name} 3 steps of {label}: relative error {worst:.2e}")
    sys.exit(1 if fails else 0)


OPTIMIZERS = [
    ("sgd", "sgd,0.1,0,0,0", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd+momentum", "sgd,0.1,0.9,0,0", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd+nesterov+decay", "sgd,0.05,0.9,1,0.01",
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", "adam,0.001,0,0,0", lambda p: torch.optim.Adam(p, lr=1e-3)),
    ("adam+decay", "adam,0.001,0,0,0.01", lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=0.01)),
    ("adamw", "adamw,0.001,0,0,0.01", lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01)),
]


if __name__ == "__main__":
    main()
