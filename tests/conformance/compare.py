"""PyTorch conformance: compiles a model with nnc, runs its generated entry
points through driver.c on the weights nnc initialised, runs the PyTorch
twin (models.py) on the same weights and inputs, and compares, per dtype
the spec builds:

  * every inference entry's results (eval mode);
  * every train entry's results (train mode: batch statistics, dropout and
    noise drawn from nnc's generator, reproduced by nnc_rng.py), every
    parameter gradient (exactly zero for parameters outside `over` or
    that the loss does not reach), every float input's gradient, the
    buffers after the step (batch-norm running statistics and
    num_batches_tracked), the parameters after the entry's own optimizer
    step, and the first inference entry on the stepped weights and buffers
    (eval mode with the updated running statistics);
  * for specs with `optimizers`, three steps of each optimizer of
    OPTIMIZERS.

Parameters and buffers that nnc initialises to a constant (batch-norm
weights and biases, running statistics, normalisation buffers) are replaced
by random values first, so that eval-mode statistics and affine parameters
are exercised. Tolerance: relative error (max abs difference over the
largest reference value) 1e-4 for f32 builds, 1e-9 for f64 builds; the
reference is always PyTorch in float64.

  compare.py NAME WORKDIR      (env: NNC, CC, CFLAGS, RUNTIME_INC, NNCRT, SRCDIR;
                               CONF_DTYPES="f32 f64" overrides the spec's dtypes)
Prints one PASS/FAIL line per comparison, then `worst NAME DTYPE: E (what)`,
and exits 1 on any failure."""
import inspect
import os
import re
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from models import MODELS  # noqa: E402
from nnc_rng import NncRng  # noqa: E402

TOL = {"f32": 1e-4, "f64": 1e-9}
NP = {"f32": np.float32, "f64": np.float64}


def sh(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
        sys.exit(1)
    return r.stdout


def build(prefix, nn_file, work, dtype, opt_level):
    src = os.environ.get("SRCDIR", ".")
    c = os.path.join(work, f"{prefix}_{dtype}.c")
    sh(os.environ.get("NNC", "build/compiler/nnc"), os.path.join(src, nn_file),
       "--dtype", dtype, "-o", c)
    exe = os.path.join(work, f"{prefix}_{dtype}")
    # the make check flags (sanitizers included), at the spec's level
    cflags = [f for f in os.environ.get("CFLAGS", "").split() if not re.fullmatch(r"-O.?", f)]
    sh(os.environ.get("CC", "cc"), "-std=c99", *cflags, opt_level,
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
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(b)))))


def perturb(weights, seed):
    """Constant-initialised tensors get random values: positive ones for
    variances and standard deviations, a count for num_batches_tracked."""
    r = np.random.default_rng(seed)
    out = {}
    for k, v in weights.items():
        if v.size and np.all(v == v.flat[0]):
            if v.dtype == np.int32:
                v = np.full_like(v, 3)
            elif k.endswith(("var", "std", ".weight")):
                v = r.uniform(0.5, 1.5, v.shape).astype(v.dtype)
            else:
                v = r.normal(0, 0.3, v.shape).astype(v.dtype)
        out[k] = v
    return out


class Checker:
    def __init__(self, name, dtype):
        self.name, self.dtype, self.tol = name, dtype, TOL[dtype]
        self.fails, self.worst, self.where = 0, 0.0, ""

    def ok(self, what, good, detail):
        self.fails += not good
        print(f"{'PASS' if good else 'FAIL'}: {self.name} {self.dtype} {what}: {detail}")

    def close(self, what, got, want):
        want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
        e = rel_err(got, want)
        if e > self.worst:
            self.worst, self.where = e, what
        self.ok(what, e < self.tol, f"relative error {e:.2e}")

    def grad(self, what, got, want, scale):
        """A gradient; one that vanishes analytically (a bias feeding batch
        norm) must stay at rounding level against the entry's largest
        gradient `scale`."""
        want = want.detach().numpy()
        if np.max(np.abs(want), initial=0.0) > 1e-6 * scale:
            return self.close(what, got, want)
        e = float(np.max(np.abs(got), initial=0.0)) / scale
        self.ok(what, e < self.tol, f"vanishes: {e:.2e} of the largest gradient")

    def zero(self, what, got):
        m = float(np.max(np.abs(got))) if np.size(got) else 0.0
        self.ok(what, m == 0.0, "zero" if m == 0 else f"max {m:.2e}, expected 0")

    def equal(self, what, got, want):
        good = np.array_equal(np.asarray(got), np.asarray(want))
        self.ok(what, good, "equal" if good else f"{np.asarray(got)} != {np.asarray(want)}")


def tup(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def in_over(pname, over):
    return over is None or any(pname == o or pname.startswith(o + ".") for o in over)


class Run:
    """One model built in one dtype, its weights and inputs on disk."""

    def __init__(self, name, spec, work, dtype):
        self.spec, self.work, self.dtype = spec, work, dtype
        self.exe = build(spec.prefix, spec.nn_file, work, dtype, spec.opt_level)
        w0 = os.path.join(work, f"init_{dtype}.st")
        sh(self.exe, "init", "7", w0)
        self.weights = perturb(st.read(w0), 11)
        self.w = os.path.join(work, f"w_{dtype}.st")
        st.write(self.w, self.weights)
        self.inp = os.path.join(work, f"in_{dtype}.st")

    def set_batch(self, batch):
        self.batch = batch
        raw = self.spec.inputs(batch, torch.Generator().manual_seed(0))
        self.inputs = {k: v.numpy().astype(NP[self.dtype]) if v.is_floating_point() else v.numpy()
                       for k, v in raw.items()}
        st.write(self.inp, self.inputs)

    def nnc(self, entry, weights=None, step=0, opt=None):
        out = os.path.join(self.work, f"out_{self.dtype}.st")
        args = [self.exe, "run", weights or self.w, entry, self.inp, out]
        if step:
            args += ["--step", str(step)]
        if opt:
            args += ["--opt", opt]
        sh(*args, f"B={self.batch}", f"N={self.batch}")
        return st.read(out)

    def twin(self, weights=None, dtype=torch.float64):
        m = self.spec.twin().to(dtype)
        sd = {k: torch.tensor(v).to(dtype) if v.dtype.kind == "f" else torch.tensor(v)
              for k, v in (weights or self.weights).items()}
        m.load_state_dict(sd, strict=True)
        m.rng = NncRng(dtype=self.dtype)
        return m

    def args(self, method, grad):
        """The twin method's inputs (by its parameter names), float64 leaves."""
        a = {}
        for p in inspect.signature(method).parameters:
            v = torch.tensor(self.inputs[p])
            if v.is_floating_point():
                v = v.double().requires_grad_(grad)
            a[p] = v
        return a


def outputs(res):
    return [v for k, v in res.items() if k.startswith("out.")]


def check_infer(run, ck, entry, weights=None, label=None):
    """weights: None (the run's) or (dict, safetensors file)."""
    m = run.twin(weights and weights[0])
    m.eval()
    with torch.no_grad():
        want = tup(getattr(m, entry)(**run.args(getattr(m, entry), False)))
    got = outputs(run.nnc(entry, weights and weights[1]))
    ck.ok(f"{label or entry} results", len(got) == len(want), f"{len(got)} results, PyTorch {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        ck.close(f"{label or entry} result {i}", g, w)


def check_train(run, ck, entry, t):
    res = run.nnc(entry, step=1)
    m = run.twin()
    m.train()
    method = getattr(m, entry)
    a = run.args(method, True)
    want = tup(method(**a))
    got = outputs(res)
    ck.ok(f"{entry} results", len(got) == len(want), f"{len(got)} results, PyTorch {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        ck.close(f"{entry} result {i}", g, w)
    if t.loss:
        want[0].backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    grads += [v.grad for v in a.values() if v.grad is not None]
    scale = max([float(g.abs().max()) for g in grads if g.numel()], default=1.0)
    untouched = []
    for pname, p in m.named_parameters():
        g = res[f"grad.{pname}"]
        if in_over(pname, t.over) and p.grad is not None:
            ck.grad(f"{entry} grad {pname}", g, p.grad, scale)
        else:
            untouched.append(pname)
    if untouched:  # outside `over`, or not reached by the loss
        ck.zero(f"{entry} grad of the {len(untouched)} others",
                np.concatenate([res[f"grad.{n}"].ravel() for n in untouched]))
    for k, v in a.items():
        if v.is_floating_point():
            if v.grad is not None:
                ck.grad(f"{entry} input gradient {k}", res[f"dx.{k}"], v.grad, scale)
            else:
                ck.zero(f"{entry} input gradient {k}", res[f"dx.{k}"])
    changed, kept = False, []  # any buffer, by nnc's step; those PyTorch kept
    for bname, b in m.named_buffers():
        got = res[f"buffer.{bname}"]
        changed |= not np.array_equal(got, run.weights[bname])
        if np.array_equal(b.numpy(), run.weights[bname].astype(b.numpy().dtype)):
            kept.append(bname)
        elif b.is_floating_point():
            ck.close(f"{entry} buffer {bname}", got, b)
        else:
            ck.equal(f"{entry} buffer {bname}", got, b.numpy())
    if kept:
        ck.ok(f"{entry} the {len(kept)} other buffers",
              all(np.array_equal(res[f"buffer.{n}"], run.weights[n]) for n in kept), "unchanged")
    if t.opt and t.loss:
        # the entry's optimizer, in PyTorch at the build's precision,
        # applied to the gradients nnc computed, moves the parameters
        # where nnc's step moved them (the others stay put)
        dt = torch.float32 if run.dtype == "f32" else torch.float64
        m2 = run.twin(dtype=dt)
        ps = []
        for pname, p in m2.named_parameters():
            if in_over(pname, t.over):
                p.grad = torch.tensor(res[f"grad.{pname}"]).to(dt)
                ps.append(p)
        t.opt(ps).step()
        worst = max(rel_err(res[f"param.{n}"], p.detach().numpy()) for n, p in m2.named_parameters())
        ck.ok(f"{entry} optimizer step", worst < TOL[run.dtype], f"relative error {worst:.2e}")
    stepped = {k: res[f"param.{k}"] if f"param.{k}" in res else res[f"buffer.{k}"]
               for k in run.weights}
    if changed and run.spec.infer:
        w2 = os.path.join(run.work, f"stepped_{run.dtype}.st")
        st.write(w2, stepped)
        check_infer(run, ck, run.spec.infer[0], (stepped, w2), f"{run.spec.infer[0]} after {entry}")


def check_optimizers(run, ck, entry):
    """Three steps of each optimizer on nnc's gradients, against torch.optim."""
    for label, spec, make in OPTIMIZERS:
        got = run.nnc(entry, step=3, opt=spec)
        m32 = run.twin(dtype=torch.float32)
        opt = make(m32.parameters())
        for k in range(3):
            tag = "grad" if k == 0 else f"grad@{k}"
            for n, p in m32.named_parameters():
                p.grad = torch.tensor(got[f"{tag}.{n}"])
            opt.step()
        worst = max(rel_err(got[f"param.{n}"], p.detach().numpy()) for n, p in m32.named_parameters())
        ck.ok(f"3 steps of {label}", worst < TOL[run.dtype], f"relative error {worst:.2e}")


def main():
    name, work = sys.argv[1], sys.argv[2]
    spec = MODELS[name]
    os.makedirs(work, exist_ok=True)
    fails = 0
    for dtype in os.environ.get("CONF_DTYPES", " ".join(spec.dtypes)).split():
        run = Run(name, spec, work, dtype)
        for batch in spec.batches:
            label = name if len(spec.batches) == 1 else f"{name} B={batch}"
            run.set_batch(batch)
            ck = Checker(label, dtype)
            for entry in spec.infer:
                check_infer(run, ck, entry)
            for entry, t in spec.train.items():
                if batch >= t.min_batch:
                    check_train(run, ck, entry, t)
            if spec.optimizers and dtype == "f32":
                check_optimizers(run, ck, next(iter(spec.train)))
            print(f"worst {label} {dtype}: {ck.worst:.2e} ({ck.where})")
            fails += ck.fails
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
