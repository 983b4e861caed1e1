/* warn_header.h — a warning inside a project header counts too. */
#ifndef WARN_HEADER_H
#define WARN_HEADER_H
void net_reset();
#endif
