/* warn_header.c — clean itself, but its header has an old-style prototype. */
// expect: tests/checkc/warn_header.h:4:15: warning: this function declaration is not a prototype [-Wstrict-prototypes]
// expect: tests/checkc/warn_header.c:6:6: error: 'net_reset' is defined with type 'void (void)' but declared as 'void ()'
#include "warn_header.h"

void net_reset(void) {}
