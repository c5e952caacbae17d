/*
 * One errno-name table for both addons (sockdiag and connengine): libuv's, the one Node uses for
 * err.code (util.getSystemErrorName), so an errno reads the same from either addon and from
 * node:net. uv_err_name_r writes into the caller's buffer: unlike uv_err_name it does not leak a
 * string for an errno libuv does not know ("Unknown system error <-errno>", as Node says).
 */
#ifndef PORTSTORM_ERRNO_NAME_H
#define PORTSTORM_ERRNO_NAME_H

#include <stddef.h>
#include <uv.h>

#define PS_ERRNO_NAME_BYTES 64

/* The name of (positive) errno `e`, written into buf (at least PS_ERRNO_NAME_BYTES); returns buf. */
static inline const char *ps_errno_name(int e, char *buf, size_t n) {
  /* libuv's codes are negated errnos on Unix. */
  return uv_err_name_r(-e, buf, n);
}

#endif
