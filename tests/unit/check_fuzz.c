/* check_fuzz.c — mutated and random inputs never crash the compiler: every
 * mutant of every example and golden input either compiles or stops with a
 * located `error:` message. Deterministic (fixed seed), so a failure
 * reproduces; the sanitizer build turns memory errors into failures. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

#include "testutil.h"

#define MUTANTS_PER_FILE 60

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  fclose(f);
  s[got] = 0;
  *len = got;
  return s;
}

static const char *const tokens[] = {"(",
                                     ")",
                                     "[",
                                     "]",
                                     "{",
                                     "}",
                                     ",",
                                     "=",
                                     "..",
                                     ":",
                                     "\n",
                                     "-1",
                                     "0",
                                     "1e999",
                                     "99999999999",
                                     "scan t in 0..T carry (h = x) {",
                                     "yield",
                                     "return",
                                     "model",
                                     "layer",
                                     "param",
                                     "fn",
                                     "train",
                                     "if true {",
                                     "for i in 0..3 {",
                                     "minimize",
                                     "x @ x",
                                     "reshape(",
                                     "[B, -1]",
                                     "import \"t.nn\"\n",
                                     "\"",
                                     "#",
                                     "\x01",
                                     "\xff",
                                     "grad(",
                                     "update",
                                     "training",
                                     "None",
                                     "@",
                                     "**"};

/* One mutant of src (NUL-terminated, malloc'd). */
static char *mutate(const char *src, size_t len) {
  size_t cap = len * 2 + 256;
  char *m = malloc(cap);
  memcpy(m, src, len + 1);
  size_t n = len;
  int edits = 1 + (int)(next() % 4);
  for (int k = 0; k < edits && n > 0; k++) {
    size_t i = next() % n, j = i + next() % (n - i + 1);
    switch (next() % 5) {
    case 0: /* truncate */
      n = i;
      break;
    case 1: /* flip a byte */
      m[i] = (char)(next() & 0xff);
      if (!m[i])
        m[i] = '?';
      break;
    case 2: /* delete a range */
      memmove(m + i, m + j, n - j);
      n -= j - i;
      break;
    case 3: { /* insert a token */
      const char *t = tokens[next() % (sizeof tokens / sizeof *tokens)];
      size_t tl = strlen(t);
      if (n + tl + 1 >= cap)
        break;
      memmove(m + i + tl, m + i, n - i);
      memcpy(m + i, t, tl);
      n += tl;
      break;
    }
    default: { /* duplicate a short range */
      size_t l = (j - i) % 64;
      if (n + l + 1 >= cap)
        break;
      memmove(m + j + l, m + j, n - j);
      memcpy(m + j, m + i, l);
      n += l;
    }
    }
  }
  m[n] = 0;
  return m;
}

static void check_one(const char *what, const char *text) {
  TestRun r;
  run_source(&r, text);
  if (r.failed)
    ck_assert_msg(strstr(r.err, "error:") != NULL,
                  "%s: failed without a message; input:\n%s", what, text);
  run_free(&r);
}

static int fuzz_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 4 || strcmp(e->d_name + l - 3, ".nn") != 0)
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len;
    char *src = slurp(path, &len);
    if (!src)
      continue;
    files++;
    check_one(path, src);
    for (int i = 0; i < MUTANTS_PER_FILE; i++) {
      char *m = mutate(src, len);
      check_one(path, m);
      free(m);
    }
    free(src);
  }
  closedir(d);
  return files;
}

static const char *srcdir(void) {
  const char *s = getenv("SRCDIR");
  return s ? s : ".";
}

START_TEST(mutated_examples) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/examples", srcdir());
  int n = fuzz_dir(dir);
  snprintf(dir, sizeof dir, "%s/tests/ir", srcdir());
  n += fuzz_dir(dir);
  ck_assert_msg(n > 0, "no inputs found under %s (set SRCDIR)", srcdir());
}
END_TEST

START_TEST(random_bytes) {
  for (int i = 0; i < 200; i++) {
    char buf[512];
    size_t n = next() % (sizeof buf - 1);
    for (size_t k = 0; k < n; k++) {
      buf[k] = (char)(next() & 0xff);
      if (!buf[k])
        buf[k] = ' ';
    }
    buf[n] = 0;
    check_one("random bytes", buf);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("fuzz");
  TCase *tc = tcase_create("mutants");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, mutated_examples);
  tcase_add_test(tc, random_bytes);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
