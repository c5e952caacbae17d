/*
 * Response framing: decides when an exchange's response is complete from the bytes received, as
 * src/load/transport/readers.ts does (byteCountReader and httpResponseReader), byte for byte.
 */
#ifndef CONNENGINE_FRAMER_H
#define CONNENGINE_FRAMER_H

#include <stddef.h>
#include <stdint.h>

enum { FR_BYTES = 0, FR_HTTP = 1 };

/* Failure codes a complete response can carry. */
enum { FF_NONE = 0, FF_HTTP_4XX = 1, FF_HTTP_5XX = 2, FF_PROTOCOL = 3 };

/* Result of framer_feed / framer_end. */
enum { FR_MORE = 0, FR_DONE = 1, FR_CUT = 2 /* framer_end only: the response was cut short */ };

typedef struct framer {
  uint8_t kind;
  uint8_t is_head;
  /* Set once FR_DONE was returned. */
  uint8_t failure;
  uint8_t keep_alive;
  /* Set with FR_DONE when the bytes fed held more than the response (the connection is not reusable). */
  uint8_t extra;

  /* FR_BYTES */
  uint64_t expect;
  uint64_t got;

  /* FR_HTTP */
  uint8_t body;   /* BODY_* in framer.c; 0 while the head is incomplete */
  uint8_t cphase; /* chunked decoding phase */
  uint8_t sz_state;
  uint8_t sz_neg;
  int status;
  double remaining;       /* Content-Length bytes left (a double, as in JS) */
  double chunk_remaining; /* chunk data (or CRLF) bytes left */
  double sz_val;
  uint32_t sz_digits;
  uint32_t sz_len;       /* bytes of the current chunk-size line so far */
  uint32_t trailer_len;  /* bytes of the current trailer line so far, at most 2 */
  uint8_t trailer_first; /* its first byte */
  char *head;            /* buffered head bytes (only when a head spans reads) */
  uint32_t head_len;
  uint32_t head_cap;
} framer;

/* The head of the final (not 1xx) response has been parsed: `status` is its status (body mode 0 is none). */
static inline int framer_head_done(const framer *f) { return f->kind == FR_HTTP && f->body != 0; }

void framer_init(framer *f, int kind, int is_head, uint64_t expect);
/* Frees the head buffer; the framer may be initialised again. */
void framer_free(framer *f);
/* Feeds received bytes: FR_MORE, or FR_DONE with f->failure and f->keep_alive set. -1: out of memory. */
int framer_feed(framer *f, const uint8_t *p, size_t n);
/* The peer closed: FR_DONE (complete, failure/keep_alive set) or FR_CUT. */
int framer_end(framer *f);

#endif
