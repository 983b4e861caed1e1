/* syntax.h — declares only net_forward. */
#ifndef SYNTAX_H
#define SYNTAX_H
#include <stdint.h>
int net_forward(const float *x, float *y, int64_t n);
#endif
