/*
 * libFuzzer harness for the HTTP response framer (../framer.c), built with ASan and UBSan by
 * scripts/fuzz-framer.sh. An input is one mode byte and then the bytes a target sends:
 *
 *   mode bit 0      the request was HEAD
 *   mode bits 1..7  seed of the split pattern (with the input's length)
 *
 * The bytes are fed as the engine's read loop feeds them (connengine.c: one framer_feed(NULL, 0)
 * when the request is sent, then one framer_feed per read until FR_DONE, framer_end at EOF), four
 * times over one framer re-initialised as a keep-alive connection re-initialises it: the whole
 * buffer in one read, one byte per read, two reads split at a seeded point, and reads of seeded
 * random sizes. Every piece is copied into a heap block of exactly its size, so a read past it is
 * an ASan report. The invariants (a violation aborts):
 *
 *   - framer_feed returns FR_MORE or FR_DONE (never -1: no allocation here can fail), framer_end
 *     FR_DONE or FR_CUT; a complete response has a failure code in range, and FF_PROTOCOL never
 *     keeps the connection alive;
 *   - the outcome (complete or cut short, failure, keep-alive, status) is the same for every split;
 *   - the response ends at the same byte for every split: one byte per read gives the byte, and
 *     each other split completes in the read holding that byte, flagging `extra` exactly when that
 *     read held more bytes than the response; a response never ends past the bytes fed;
 *   - a completed response stays complete: a head that has been parsed stays parsed (status set).
 *
 * One rule of readers.ts (mirrored by framer.c) depends on the split by design: a chunk-size line
 * longer than 1024 bytes is refused only while its newline has not arrived. A split that ends in
 * that refusal is left out of the comparison (it must still be FF_PROTOCOL). The head limit (64 KiB
 * before CRLFCRLF) is split-dependent the same way; inputs are capped below it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../framer.h"

/* framer.c's BODY_CHUNKED and CP_SIZE, and its chunk-size line limit. */
#define BODY_CHUNKED_ 2
#define CP_SIZE_ 0
#define MAX_CHUNK_LINE_ 1024
#define MAX_INPUT (60 * 1024)

typedef struct {
  int res;       /* FR_DONE or FR_CUT */
  int failure;   /* FR_DONE only */
  int keep_alive;
  int status;    /* -1: no final head */
  int extra;
  int long_line; /* refused by the chunk-size line limit */
  int at_eof;    /* the outcome came from framer_end */
  size_t from;   /* the read in which the response ended: bytes [from, to) of the input */
  size_t to;
} outcome;

static void fail(const char *what, const outcome *a, const outcome *b) {
  fprintf(stderr, "framer_fuzz: invariant violated: %s\n", what);
  const outcome *o[2] = {a, b};
  for (int i = 0; i < 2; i++)
    if (o[i])
      fprintf(stderr, "  res=%d failure=%d keep_alive=%d status=%d extra=%d long_line=%d read=[%zu,%zu)\n", o[i]->res, o[i]->failure,
              o[i]->keep_alive, o[i]->status, o[i]->extra, o[i]->long_line, o[i]->from, o[i]->to);
  abort();
}

/* Feeds d[0..n) in reads ending at ends[0] < ends[1] < ... < ends[np-1] == n. */
static outcome run(framer *f, int is_head, const uint8_t *d, size_t n, const size_t *ends, size_t np) {
  outcome o;
  memset(&o, 0, sizeof o);
  framer_init(f, FR_HTTP, is_head, 0);
  if (framer_feed(f, NULL, 0) != FR_MORE) fail("framer_feed(NULL, 0) on a fresh framer is not FR_MORE", NULL, NULL);
  size_t from = 0;
  int head_seen = 0;
  for (size_t i = 0; i < np; i++) {
    size_t to = ends[i];
    size_t len = to - from;
    uint8_t *piece = malloc(len);
    if (piece == NULL) abort();
    memcpy(piece, d + from, len);
    int r = framer_feed(f, piece, len);
    free(piece);
    if (r != FR_MORE && r != FR_DONE) fail("framer_feed returned neither FR_MORE nor FR_DONE", NULL, NULL);
    if (head_seen && !framer_head_done(f)) fail("a parsed head became unparsed", NULL, NULL);
    head_seen = framer_head_done(f);
    if (r == FR_DONE) {
      o.res = FR_DONE;
      o.from = from;
      o.to = to;
      o.extra = f->extra;
      o.long_line = f->failure == FF_PROTOCOL && f->kind == FR_HTTP && f->body == BODY_CHUNKED_ && f->cphase == CP_SIZE_ &&
                    f->sz_len > MAX_CHUNK_LINE_;
      goto done;
    }
    from = to;
  }
  o.res = framer_end(f);
  if (o.res != FR_DONE && o.res != FR_CUT) fail("framer_end returned neither FR_DONE nor FR_CUT", NULL, NULL);
  o.from = o.to = n;
  o.at_eof = 1;
done:
  o.failure = o.res == FR_DONE ? f->failure : -1;
  o.keep_alive = o.res == FR_DONE ? f->keep_alive : -1;
  o.status = framer_head_done(f) ? f->status : -1;
  if (o.res == FR_DONE) {
    if (o.failure < FF_NONE || o.failure > FF_PROTOCOL) fail("failure code out of range", &o, NULL);
    if (o.failure == FF_PROTOCOL && o.keep_alive) fail("a protocol error keeps the connection alive", &o, NULL);
    if (o.failure != FF_PROTOCOL && (o.status < 0 || (o.status >= 100 && o.status < 200))) fail("a complete response without a final (non-1xx) status", &o, NULL);
    if (o.failure == FF_HTTP_5XX && o.status < 500) fail("HTTP_5XX below 500", &o, NULL);
    if (o.failure == FF_HTTP_4XX && (o.status < 400 || o.status >= 500)) fail("HTTP_4XX outside 4xx", &o, NULL);
  }
  return o;
}

/* xorshift32 */
static uint32_t next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* o agrees with ref; exact: ref was fed one byte per read, so ref->to - 1 is the response's last byte. */
static void same(const outcome *ref, const outcome *o, int exact) {
  if (o->long_line) {
    if (o->failure != FF_PROTOCOL) fail("the chunk-size line limit without FF_PROTOCOL", o, NULL);
    return;
  }
  if (ref->long_line) return;
  if (o->res != ref->res) fail("complete for one split, cut short for another", ref, o);
  if (o->failure != ref->failure) fail("failure differs between splits", ref, o);
  if (o->keep_alive != ref->keep_alive) fail("keep-alive differs between splits", ref, o);
  if (o->status != ref->status) fail("status differs between splits", ref, o);
  if (o->at_eof != ref->at_eof) fail("complete before EOF for one split, at EOF for another", ref, o);
  if (o->res == FR_DONE && !o->at_eof && exact) {
    size_t end = ref->to;
    if (!(o->from < end && end <= o->to)) fail("the response ends in a different read", ref, o);
    if (o->failure != FF_PROTOCOL && o->extra != (end < o->to)) fail("extra does not match the bytes past the response", ref, o);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > MAX_INPUT) return 0;
  int is_head = data[0] & 1;
  uint32_t seed = ((uint32_t)data[0] >> 1) * 2654435761u + (uint32_t)size + 1;
  const uint8_t *d = data + 1;
  size_t n = size - 1;

  static framer f; /* one framer, re-initialised per run as the engine re-initialises a connection's */
  size_t *ends = malloc((n + 1) * sizeof *ends);
  if (ends == NULL) abort();

  /* One byte per read: the reference. */
  for (size_t i = 0; i < n; i++) ends[i] = i + 1;
  outcome bytes = run(&f, is_head, d, n, ends, n);
  if (bytes.res == FR_DONE && bytes.failure != FF_PROTOCOL && bytes.extra) fail("extra with one byte per read", &bytes, NULL);
  if (bytes.to > n) fail("the response ends past the bytes fed", &bytes, NULL);

  /* The whole buffer in one read. */
  size_t np = 0;
  if (n > 0) ends[np++] = n;
  outcome whole = run(&f, is_head, d, n, ends, np);
  same(&bytes, &whole, 1);

  /* Two reads, split at a seeded point. */
  np = 0;
  if (n > 1) {
    ends[np++] = 1 + next(&seed) % (n - 1);
    ends[np++] = n;
  } else if (n == 1) {
    ends[np++] = 1;
  }
  outcome two = run(&f, is_head, d, n, ends, np);
  same(&bytes, &two, 1);
  if (bytes.long_line && !whole.long_line) same(&whole, &two, 0);

  /* Reads of seeded sizes: mostly small, sometimes large. */
  np = 0;
  uint32_t scale = 1 + next(&seed) % 64;
  for (size_t at = 0; at < n;) {
    uint32_t r = next(&seed);
    size_t len = 1 + (r & 7 ? r % scale : r % 4096);
    at = at + len < n ? at + len : n;
    ends[np++] = at;
  }
  outcome random = run(&f, is_head, d, n, ends, np);
  same(&bytes, &random, 1);
  if (bytes.long_line && !whole.long_line) same(&whole, &random, 0);

  free(ends);
  framer_free(&f);
  return 0;
}
