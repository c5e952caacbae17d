/*
 * Regression checks of ../framer.c too big for the driver's stdin (run by
 * test/unit/framer-differential.test.ts, built with `cc`). Exit 0 and "ok", else 1 and the reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../framer.h"

static int feed_str(framer *f, const char *s) { return framer_feed(f, (const uint8_t *)s, strlen(s)); }

int main(void) {
  framer f = {0};
  /* A trailer line of exactly 2^32 bytes: its length counter wrapped to 0 and the line counted as
     the blank one that ends the body (readers.ts: not blank, not complete). */
  framer_init(&f, FR_HTTP, 0, 0);
  if (feed_str(&f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n") != FR_MORE) return puts("head"), 1;
  size_t piece = 1 << 20;
  uint8_t *junk = malloc(piece);
  if (junk == NULL) return puts("out of memory"), 1;
  memset(junk, 'A', piece);
  for (uint64_t fed = 0; fed < (uint64_t)1 << 32; fed += piece)
    if (framer_feed(&f, junk, piece) != FR_MORE) return puts("4 GiB trailer line: done before its newline"), 1;
  if (feed_str(&f, "\n") != FR_MORE) return puts("a 2^32-byte trailer line counted as blank"), 1;
  if (feed_str(&f, "\r\n") != FR_DONE || f.failure != FF_NONE) return puts("the blank line after it did not end the body"), 1;
  free(junk);
  framer_free(&f);
  puts("ok");
  return 0;
}
