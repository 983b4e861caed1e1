/* nnc_train.h — the generic trainer of the nnc runtime (train.c): trains
 * a classifier, or a model trained on its inputs alone (an autoencoder, a
 * self-supervised model), described by an nnc_model_desc on a data set
 * (Fashion-MNIST by default), with validation, early stopping, checkpoints,
 * augmentation, transfer from a checkpoint and a report.
 * `nnc train MODEL.nn` builds a program whose main is one call of
 * nnc_train_main; the option table below is shared by both. */
#ifndef NNC_TRAIN_H
#define NNC_TRAIN_H

#include "nnc_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default data set: Debian's dataset-fashion-mnist package. */
#define NNC_TRAIN_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* X(option, metavar (NULL: a flag), help), in the order --help lists them. */
#define NNC_TRAIN_OPTIONS(X)                                                   \
  X("--data", "PATH",                                                          \
    "data set: a directory of IDX files (train-images-idx3-ubyte[.gz], "       \
    "train-labels-idx1-ubyte[.gz], t10k-...) or a CSV file with a header "     \
    "line and the label in the last column (default " NNC_TRAIN_DEFAULT_DATA   \
    ")")                                                                       \
  X("--test", "PATH",                                                          \
    "test set: a CSV file or an IDX directory (default: the t10k files "       \
    "beside IDX training data; for CSV data, a held-out part of it)")          \
  X("--test-fraction", "F",                                                    \
    "fraction of CSV data held out as the test set when there is no --test "   \
    "(default 0.1)")                                                           \
  X("--limit", "N", "use only the first N training examples (0: all)")         \
  X("--epochs", "N",                                                           \
    "epochs to train in all, resumed ones included "                           \
    "(default 5)")                                                             \
  X("--batch", "N",                                                            \
    "mini-batch size; the last partial batch is used "                         \
    "(default 64)")                                                            \
  X("--lr", "X", "learning rate (default: the one in the .nn file)")           \
  X("--lr-schedule", "S",                                                      \
    "constant (the default) or cosine: the learning rate falls from --lr "     \
    "to 0 along half a cosine over all the steps of --epochs")                 \
  X("--seed", "S",                                                             \
    "seed of the initialisation, the split and the shuffles (default 42)")     \
  X("--val-fraction", "F",                                                     \
    "fraction of the training set held out for validation (default 0.1)")      \
  X("--patience", "N",                                                         \
    "stop after N epochs without a lower validation loss (default 0: off)")    \
  X("--checkpoint", "PATH",                                                    \
    "save the weights (safetensors) at every epoch that lowers the "           \
    "validation loss, with the trainer state in PATH.state; the test set "     \
    "is then evaluated with the best weights")                                 \
  X("--resume", "PATH",                                                        \
    "start from the weights in PATH, continuing its epoch count when "         \
    "PATH.state exists; the optimizer state starts afresh")                    \
  X("--entry", "NAME",                                                         \
    "the train entry to run (default: `step` when it fits, else the first "   \
    "taking (x, y: i32[B]) (a classifier), else the first taking x alone (a " \
    "model trained without labels))")                                          \
  X("--init-from", "PATH",                                                     \
    "start from the tensors of a safetensors file whose names and shapes "     \
    "match the model's (the others keep their initialisation; a report "      \
    "lists what was loaded and skipped), as PyTorch's "                        \
    "load_state_dict(strict=False)")                                           \
  X("--augment", "SPEC",                                                       \
    "random changes to the training images, seeded, never to validation "     \
    "or test data: flip (horizontal, half of the images), shift=N (up to N "   \
    "pixels each way; shift: 2), comma-separated: flip,shift=2")               \
  X("--normalise", "MODE",                                                     \
    "standard: each feature standardised with the training split's "          \
    "statistics (the default with labels); unit: values in [0, 1] (IDX "       \
    "pixels as read, CSV values over 1 divided by 255; the default without "  \
    "labels, whose sigmoid outputs are compared with the input)")              \
  X("--out", "DIR",                                                            \
    "where report.txt, learning_curves.svg and the image grids go "           \
    "(default .)")                                                             \
  X("--threads", "N",                                                          \
    "threads of the GEMM library and of OpenMP (default: every core)")       \
  X("--quiet", NULL,                                                           \
    "print only the test accuracy line (and errors); no progress bar")         \
  X("--help", NULL, "print this help")

/* Random changes to training images (image.c): a horizontal flip of half
 * of them, a shift by up to `shift` pixels along each axis. */
typedef struct nnc_augment {
  int flip;
  int shift;
} nnc_augment;

/* "flip", "shift", "shift=N" (1 <= N <= 16), comma-separated; 0, or -1
 * with a message. */
int nnc_augment_parse(const char *spec, nnc_augment *a, char *err,
                      size_t errlen);
/* Changes the image x: [c, h, w] in place, drawing from r (the flip, then
 * the row and column shifts, whichever are on); uncovered pixels become 0.
 * tmp holds h * w floats. */
void nnc_augment_image(nnc_rng *r, const nnc_augment *a, float *x, int64_t c,
                       int64_t h, int64_t w, float *tmp);
/* An 8-bit grayscale PNG of w x h pixels (row-major), written through a
 * temporary name and renamed; 0, or -1 with a message. */
int nnc_png_write_gray(const char *path, const unsigned char *pix, int64_t w,
                       int64_t h, char *err, size_t errlen);

/* Prints the options above, two columns, to f. */
void nnc_train_usage(FILE *f);

/* Runs the trainer with command-line arguments (argv[0] is the program
 * name). Exit status: 0 success, 1 an error (data, model, files), 2 bad
 * usage. Writes nothing but to stdout, stderr and the files it names. */
int nnc_train_main(const nnc_model_desc *d, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
