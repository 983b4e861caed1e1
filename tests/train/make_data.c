/* make_data.c — writes a small synthetic classification data set for the
 * trainer tests: SIDE x SIDE grey images where class c lights up its own
 * block of pixels over background noise (linearly separable).
 *
 *   make_data idx DIR NTRAIN NTEST SIDE CLASSES SEED
 *       DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte (plain IDX)
 *   make_data csv FILE N SIDE CLASSES SEED
 *       FILE: header p0,...,label; one example per line */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state;

static unsigned rnd(unsigned n) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)((state >> 33) % n);
}

/* One example of class c into px[side * side]. */
static void example(unsigned char *px, int side, int classes, int c) {
  int cells = side * side, block = cells / classes;
  for (int i = 0; i < cells; i++)
    px[i] = (unsigned char)rnd(140);
  for (int i = c * block; i < (c + 1) * block; i++)
    px[i] = (unsigned char)(100 + rnd(156));
}

static void be32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  fwrite(b, 1, 4, f);
}

static int write_idx(const char *dir, const char *prefix, int n, int side,
                     int classes) {
  char ip[1024], lp[1024];
  snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte", dir, prefix);
  snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte", dir, prefix);
  FILE *fi = fopen(ip, "wb"), *fl = fopen(lp, "wb");
  if (!fi || !fl) {
    perror(fi ? lp : ip);
    return 1;
  }
  be32(fi, 0x803);
  be32(fi, (uint32_t)n);
  be32(fi, (uint32_t)side);
  be32(fi, (uint32_t)side);
  be32(fl, 0x801);
  be32(fl, (uint32_t)n);
  unsigned char px[4096];
  for (int i = 0; i < n; i++) {
    int c = (int)rnd((unsigned)classes);
    unsigned char y = (unsigned char)c;
    example(px, side, classes, c);
    fwrite(px, 1, (size_t)(side * side), fi);
    fwrite(&y, 1, 1, fl);
  }
  return (fclose(fi) | fclose(fl)) != 0;
}

static int write_csv(const char *path, int n, int side, int classes) {
  FILE *f = fopen(path, "w");
  unsigned char px[4096];
  if (!f) {
    perror(path);
    return 1;
  }
  for (int j = 0; j < side * side; j++)
    fprintf(f, "p%d,", j);
  fprintf(f, "label\n");
  for (int i = 0; i < n; i++) {
    int c = (int)rnd((unsigned)classes);
    example(px, side, classes, c);
    for (int j = 0; j < side * side; j++)
      fprintf(f, "%d,", px[j]);
    fprintf(f, "%d\n", c);
  }
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  if (argc == 8 && !strcmp(argv[1], "idx")) {
    int side = atoi(argv[5]);
    state = strtoull(argv[7], NULL, 10);
    if (side < 1 || side > 64)
      return 2;
    return write_idx(argv[2], "train", atoi(argv[3]), side, atoi(argv[6])) ||
           write_idx(argv[2], "t10k", atoi(argv[4]), side, atoi(argv[6]));
  }
  if (argc == 7 && !strcmp(argv[1], "csv")) {
    int side = atoi(argv[4]);
    state = strtoull(argv[6], NULL, 10);
    if (side < 1 || side > 64)
      return 2;
    return write_csv(argv[2], atoi(argv[3]), side, atoi(argv[5]));
  }
  fprintf(stderr, "usage: make_data idx DIR NTRAIN NTEST SIDE CLASSES SEED\n"
                  "       make_data csv FILE N SIDE CLASSES SEED\n");
  return 2;
}
