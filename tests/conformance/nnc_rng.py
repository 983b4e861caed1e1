"""nnc's in-graph random numbers in Python (runtime/rng.c): xoshiro256**
seeded through splitmix64, uniforms (next >> 11) * 2^-53, Box-Muller normals
with a spare. The generated code fills each rand_uniform / rand_normal
tensor in row-major order, in program order, from the model's generator,
rounding each draw to the model's dtype; the twins draw the same way, so a
dropout mask or a noise tensor is the very one nnc used.

The conformance driver's `run` calls MODEL_init(m, 1), which seeds the
generator with 1 ^ 0x9e3779b97f4a7c15 (compiler/emit.c, MODEL_init)."""
import math

import numpy as np
import torch

M64 = (1 << 64) - 1
DRIVER_SEED = 1 ^ 0x9e3779b97f4a7c15


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class NncRng:
    def __init__(self, seed=DRIVER_SEED, dtype="f32"):
        x, self.s = seed, []
        for _ in range(4):
            x = (x + 0x9e3779b97f4a7c15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
            self.s.append(z ^ (z >> 31))
        self.spare = None
        self.np_dtype = np.float32 if dtype == "f32" else np.float64

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform1(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal1(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u1 = 1.0 - self.uniform1()
        u2 = self.uniform1()
        rad = math.sqrt(-2.0 * math.log(u1))
        th = 6.283185307179586476925286766559 * u2
        self.spare = rad * math.sin(th)
        return rad * math.cos(th)

    def _tensor(self, shape, draw):
        n = int(np.prod(shape))
        a = np.array([draw() for _ in range(n)], dtype=np.float64)
        return torch.tensor(a.astype(self.np_dtype).astype(np.float64).reshape(tuple(shape)))

    def uniform(self, shape):
        """rand_uniform(shape), as float64 values rounded to the dtype."""
        return self._tensor(shape, self.uniform1)

    def normal(self, shape):
        """rand_normal(shape), as float64 values rounded to the dtype."""
        return self._tensor(shape, self.normal1)

    def keep(self, shape, p):
        """The survivors of dropout(x, p): rand_uniform(shape) >= p, both
        in the model's dtype."""
        return self.uniform(shape) >= float(self.np_dtype(p))
