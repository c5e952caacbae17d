/*
 * Plain driver of the HTTP framer (../framer.c) for test/unit/framer-differential.test.ts, which
 * builds it with `cc` and compares its outcomes with src/load/transport/readers.ts. No sanitizers.
 *
 * stdin: records, each  u8 is_head, u32le n_pieces, then n_pieces times (u32le len, len bytes).
 * The pieces are fed as the engine feeds reads (framer_feed(NULL, 0) first, then one framer_feed
 * per piece until FR_DONE, framer_end after the last), over one framer re-initialised per record.
 * stdout: one JSON line per record:
 *   {"at":K,"done":true|false,"failure":null|"HTTP_4XX"|"HTTP_5XX"|"PROTOCOL","keepAlive":B,"status":S}
 * K is the index of the piece whose feed completed the response, or -1 for framer_end (done false:
 * cut short); S is the final head's status, or -1 when no final head was parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../framer.h"

static int read_exact(void *p, size_t n) { return fread(p, 1, n, stdin) == n; }

static int read_u32(uint32_t *v) {
  uint8_t b[4];
  if (!read_exact(b, 4)) return 0;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 1;
}

static void die(const char *what) {
  fprintf(stderr, "framer_driver: %s\n", what);
  exit(2);
}

int main(void) {
  static const char *failures[] = {"null", "\"HTTP_4XX\"", "\"HTTP_5XX\"", "\"PROTOCOL\""};
  framer f = {0};
  uint8_t *buf = NULL;
  size_t cap = 0;
  int is_head;
  while ((is_head = getchar()) != EOF) {
    uint32_t np;
    if (!read_u32(&np)) die("truncated record");
    framer_init(&f, FR_HTTP, is_head, 0);
    int r = framer_feed(&f, NULL, 0);
    long at = -1;
    for (uint32_t i = 0; i < np; i++) {
      uint32_t len;
      if (!read_u32(&len)) die("truncated record");
      if (len > cap) {
        free(buf);
        cap = len;
        buf = malloc(cap);
        if (buf == NULL) die("out of memory");
      }
      if (len > 0 && !read_exact(buf, len)) die("truncated record");
      if (r == FR_MORE) {
        r = framer_feed(&f, buf, len);
        if (r < 0) die("out of memory");
        if (r == FR_DONE) at = i;
      }
    }
    if (r == FR_MORE) r = framer_end(&f);
    int done = r == FR_DONE;
    printf("{\"at\":%ld,\"done\":%s,\"failure\":%s,\"keepAlive\":%s,\"status\":%d}\n", at, done ? "true" : "false",
           done ? failures[f.failure] : "null", done && f.keep_alive ? "true" : "false", framer_head_done(&f) ? f.status : -1);
  }
  free(buf);
  framer_free(&f);
  return 0;
}
