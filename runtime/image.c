/* image.c — images for the trainer: random augmentation of training
 * images (horizontal flips, small shifts) and a grayscale PNG writer
 * (zlib's compress2 and crc32), used for reconstruction and sample grids. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "nnc_internal.h"
#include "nnc_train.h"

/* ------------------------------------------------------- augmentation */

int nnc_augment_parse(const char *spec, nnc_augment *a, char *err,
                      size_t errlen) {
  memset(a, 0, sizeof *a);
  const char *p = spec;
  if (!*p)
    return nnc_rt_errf(err, errlen, "empty augmentation list");
  for (;;) {
    size_t len = strcspn(p, ",");
    if (len == 4 && !strncmp(p, "flip", 4)) {
      a->flip = 1;
    } else if (len == 5 && !strncmp(p, "shift", 5)) {
      a->shift = 2;
    } else if (len > 6 && !strncmp(p, "shift=", 6)) {
      char num[16], *end;
      size_t n = len - 6;
      if (n >= sizeof num)
        n = sizeof num - 1;
      memcpy(num, p + 6, n);
      num[n] = 0;
      errno = 0;
      long v = strtol(num, &end, 10);
      if (errno || *end || end == num || v < 1 || v > 16 || len - 6 != n)
        return nnc_rt_errf(err, errlen,
                           "shift needs a number of pixels from 1 to 16, "
                           "not '%.*s'",
                           (int)(len - 6), p + 6);
      a->shift = (int)v;
    } else {
      return nnc_rt_errf(err, errlen,
                         "unknown augmentation '%.*s' (flip, shift or "
                         "shift=N, separated by commas)",
                         (int)len, p);
    }
    if (!p[len])
      break;
    p += len + 1;
  }
  return 0;
}

/* An integer uniform in [lo, hi]. */
static int uniform_int(nnc_rng *r, int lo, int hi) {
  int v = lo + (int)(nnc_rng_uniform(r) * (double)(hi - lo + 1));
  return v > hi ? hi : v;
}

void nnc_augment_image(nnc_rng *r, const nnc_augment *a, float *x, int64_t c,
                       int64_t h, int64_t w, float *tmp) {
  int flip = a->flip && nnc_rng_uniform(r) < 0.5;
  int dy = a->shift ? uniform_int(r, -a->shift, a->shift) : 0;
  int dx = a->shift ? uniform_int(r, -a->shift, a->shift) : 0;
  if (!flip && !dy && !dx)
    return;
  int64_t plane = h * w;
  for (int64_t k = 0; k < c; k++) {
    float *img = x + k * plane;
    memcpy(tmp, img, sizeof *tmp * (size_t)plane);
    /* out(i, j) = in(i - dy, j' - dx), j' = w-1-j when flipped; outside
     * the image: 0 (the black background) */
    for (int64_t i = 0; i < h; i++) {
      int64_t si = i - dy;
      for (int64_t j = 0; j < w; j++) {
        int64_t sj = (flip ? w - 1 - j : j) - dx;
        img[i * w + j] = si >= 0 && si < h && sj >= 0 && sj < w
                             ? tmp[si * w + sj]
                             : 0.0f;
      }
    }
  }
}

/* ---------------------------------------------------------------- PNG */

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static int put_chunk(FILE *f, const char *type, const unsigned char *data,
                     uint32_t n) {
  unsigned char head[8], crc[4];
  put32(head, n);
  memcpy(head + 4, type, 4);
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, head + 4, 4);
  if (n)
    c = crc32(c, data, n);
  put32(crc, (uint32_t)c);
  return fwrite(head, 1, 8, f) != 8 || (n && fwrite(data, 1, n, f) != n) ||
         fwrite(crc, 1, 4, f) != 4;
}

int nnc_png_write_gray(const char *path, const unsigned char *pix, int64_t w,
                       int64_t h, char *err, size_t errlen) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                       '\n'};
  if (w < 1 || h < 1 || w > 1 << 20 || h > 1 << 20 || w * h > 1 << 26)
    return nnc_rt_errf(err, errlen, "%s: invalid image size %lldx%lld", path,
                       (long long)w, (long long)h);
  /* each row: filter type 0 (none), then the pixels */
  size_t rawlen = (size_t)(h * (w + 1));
  unsigned char *raw = malloc(rawlen);
  uLongf zlen = compressBound((uLong)rawlen);
  unsigned char *z = malloc(zlen);
  if (!raw || !z) {
    free(raw);
    free(z);
    return nnc_rt_errf(err, errlen, "%s: out of memory", path);
  }
  for (int64_t i = 0; i < h; i++) {
    raw[i * (w + 1)] = 0;
    memcpy(raw + i * (w + 1) + 1, pix + i * w, (size_t)w);
  }
  int zrc = compress2(z, &zlen, raw, (uLong)rawlen, 9);
  free(raw);
  if (zrc != Z_OK) {
    free(z);
    return nnc_rt_errf(err, errlen, "%s: compression failed (zlib %d)", path,
                       zrc);
  }
  unsigned char ihdr[13];
  put32(ihdr, (uint32_t)w);
  put32(ihdr + 4, (uint32_t)h);
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 0;  /* grayscale */
  ihdr[10] = 0; /* deflate */
  ihdr[11] = 0; /* adaptive filtering (each row says which) */
  ihdr[12] = 0; /* no interlace */
  size_t tn = strlen(path) + 32;
  char *tmp = malloc(tn);
  FILE *f = NULL;
  int bad = 1;
  if (tmp) {
    snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "wb");
  }
  if (f) {
    bad = fwrite(sig, 1, 8, f) != 8 || put_chunk(f, "IHDR", ihdr, 13) ||
          put_chunk(f, "IDAT", z, (uint32_t)zlen) ||
          put_chunk(f, "IEND", NULL, 0);
    bad |= fclose(f) != 0;
    bad = bad || rename(tmp, path) != 0;
  }
  int saved = errno, have_tmp = tmp != NULL;
  free(z);
  if (bad) {
    if (tmp)
      remove(tmp);
    free(tmp);
    return nnc_rt_errf(err, errlen, "%s: cannot write: %s", path,
                       have_tmp ? strerror(saved) : "out of memory");
  }
  free(tmp);
  return 0;
}
