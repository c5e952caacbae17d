/*
 * Response framing, the C twin of src/load/transport/readers.ts. Every rule below mirrors a line
 * of httpResponseReader / byteCountReader, including their quirks (JS `trim()` whitespace, which
 * includes NBSP in latin1; `parseInt(line, 16)` for chunk sizes, with sign and 0x prefix; the
 * 1024-byte limit on a chunk-size line only when its newline is not in the same read). Numbers are
 * doubles as in JS: a Content-Length or chunk size above 2^53 counts as approximately as JS does.
 */
#include "framer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD (64 * 1024)
#define MAX_CHUNK_LINE 1024

enum { BODY_NONE = 0, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum { CP_SIZE = 0, CP_DATA, CP_DATA_CRLF, CP_TRAILER };
/* parseInt(trimmed line, 16), one byte at a time. */
enum { SZ_WS = 0, SZ_SIGN, SZ_PFX0, SZ_PFX1, SZ_DIG, SZ_STOP };

/* JS WhiteSpace and LineTerminator code points that exist in latin1. */
static int is_js_ws(uint8_t c) {
  return c == 0x09 || c == 0x0a || c == 0x0b || c == 0x0c || c == 0x0d || c == 0x20 || c == 0xa0;
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

void framer_init(framer *f, int kind, int is_head, uint64_t expect) {
  char *head = f->head;
  uint32_t cap = f->head_cap;
  memset(f, 0, sizeof *f);
  /* Keep an existing head buffer for reuse. */
  f->head = head;
  f->head_cap = cap;
  f->kind = (uint8_t)kind;
  f->is_head = (uint8_t)(is_head != 0);
  f->expect = expect;
  f->keep_alive = 1;
}

void framer_free(framer *f) {
  free(f->head);
  f->head = NULL;
  f->head_cap = 0;
  f->head_len = 0;
}

static int finish(framer *f) {
  f->failure = f->status >= 500 ? FF_HTTP_5XX : f->status >= 400 ? FF_HTTP_4XX : FF_NONE;
  return FR_DONE;
}

static int protocol(framer *f) {
  f->failure = FF_PROTOCOL;
  f->keep_alive = 0;
  return FR_DONE;
}

static void trim(const uint8_t **s, const uint8_t **e) {
  while (*s < *e && is_js_ws(**s)) (*s)++;
  while (*e > *s && is_js_ws((*e)[-1])) (*e)--;
}

/* s..e equals `word` (lowercase ASCII) ignoring ASCII case. */
static int equals_ci(const uint8_t *s, const uint8_t *e, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(e - s) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(s[i]) != (uint8_t)word[i]) return 0;
  return 1;
}

static int contains_ci(const uint8_t *s, const uint8_t *e, const char *word) {
  size_t n = strlen(word);
  for (const uint8_t *p = s; (size_t)(e - p) >= n; p++) {
    size_t i = 0;
    while (i < n && lower(p[i]) == (uint8_t)word[i]) i++;
    if (i == n) return 1;
  }
  return 0;
}

/* Number() of a string of ASCII digits: correctly rounded, Infinity past DBL_MAX. */
static double decimal_value(const uint8_t *s, const uint8_t *e) {
  while (s < e - 1 && *s == '0') s++;
  if (e - s > 309) return INFINITY;
  char buf[320];
  memcpy(buf, s, (size_t)(e - s));
  buf[e - s] = 0;
  return strtod(buf, NULL);
}

/* The line s..e of a head (after the status line). */
static void header_line(framer *f, const uint8_t *s, const uint8_t *e, double *length, int *has_length, int *chunked) {
  const uint8_t *colon = memchr(s, ':', (size_t)(e - s));
  if (colon == NULL || colon == s) return;
  const uint8_t *ns = s, *ne = colon, *vs = colon + 1, *ve = e;
  trim(&ns, &ne);
  trim(&vs, &ve);
  if (equals_ci(ns, ne, "content-length")) {
    int digits = vs < ve;
    for (const uint8_t *p = vs; p < ve && digits; p++) digits = *p >= '0' && *p <= '9';
    *length = digits ? decimal_value(vs, ve) : -1;
    *has_length = 1;
  } else if (equals_ci(ns, ne, "transfer-encoding")) {
    *chunked = 0;
    const uint8_t *p = vs;
    for (;;) {
      const uint8_t *comma = memchr(p, ',', (size_t)(ve - p));
      const uint8_t *ts = p, *te = comma ? comma : ve;
      trim(&ts, &te);
      if (equals_ci(ts, te, "chunked")) *chunked = 1;
      if (!comma) break;
      p = comma + 1;
    }
  } else if (equals_ci(ns, ne, "connection")) {
    f->keep_alive = contains_ci(vs, ve, "keep-alive") || (f->keep_alive && !contains_ci(vs, ve, "close"));
  }
}

static const uint8_t *find_crlf(const uint8_t *s, const uint8_t *e) {
  for (const uint8_t *p = s; p + 1 < e; p++) {
    p = memchr(p, '\r', (size_t)(e - p - 1));
    if (p == NULL) return NULL;
    if (p[1] == '\n') return p;
  }
  return NULL;
}

/* The head h[0..n) (without its CRLFCRLF): 0 = body mode set, 1 = interim (1xx), -1 = PROTOCOL. */
static int parse_head(framer *f, const uint8_t *h, size_t n) {
  if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ') return -1;
  for (int i = 9; i < 12; i++)
    if (h[i] < '0' || h[i] > '9') return -1;
  f->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  f->keep_alive = h[7] == '1';
  double length = 0;
  int has_length = 0, chunked = 0;
  const uint8_t *end = h + n;
  const uint8_t *p = find_crlf(h, end);
  while (p != NULL) {
    const uint8_t *s = p + 2;
    p = find_crlf(s, end);
    header_line(f, s, p ? p : end, &length, &has_length, &chunked);
  }
  if (f->status >= 100 && f->status < 200) return 1;
  if (f->is_head || f->status == 204 || f->status == 304) {
    f->body = BODY_LENGTH;
    f->remaining = 0;
  } else if (chunked) {
    f->body = BODY_CHUNKED;
  } else if (has_length) {
    if (!isfinite(length) || length < 0 || length != floor(length)) return -1;
    f->body = BODY_LENGTH;
    f->remaining = length;
  } else {
    f->body = BODY_CLOSE;
    f->keep_alive = 0;
  }
  return 0;
}

static void size_byte(framer *f, uint8_t c) {
  switch (f->sz_state) {
    case SZ_WS:
      if (is_js_ws(c)) return;
      f->sz_state = SZ_SIGN;
      /* fall through */
    case SZ_SIGN:
      f->sz_state = SZ_PFX0;
      if (c == '+' || c == '-') {
        f->sz_neg = c == '-';
        return;
      }
      /* fall through */
    case SZ_PFX0:
      if (c == '0') {
        f->sz_state = SZ_PFX1;
        f->sz_digits = 1;
        return;
      }
      f->sz_state = SZ_DIG;
      break;
    case SZ_PFX1:
      f->sz_state = SZ_DIG;
      if (c == 'x' || c == 'X') {
        f->sz_digits = 0;
        return;
      }
      break;
    case SZ_DIG:
      break;
    default:
      return;
  }
  int v = hexval(c);
  if (v < 0) {
    f->sz_state = SZ_STOP;
    return;
  }
  f->sz_val = f->sz_val * 16 + v;
  f->sz_digits++;
}

/* End of a chunk-size line: 0, or -1 for PROTOCOL. */
static int size_line_end(framer *f) {
  double v = f->sz_val;
  int ok = f->sz_digits > 0 && isfinite(v) && !(f->sz_neg && v != 0);
  f->sz_state = SZ_WS;
  f->sz_neg = 0;
  f->sz_val = 0;
  f->sz_digits = 0;
  f->sz_len = 0;
  if (!ok) return -1;
  if (v == 0) {
    f->cphase = CP_TRAILER;
    f->trailer_len = 0;
  } else {
    f->chunk_remaining = v;
    f->cphase = CP_DATA;
  }
  return 0;
}

static int feed_chunked(framer *f, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (f->cphase == CP_SIZE) {
      const uint8_t *nl = memchr(p + i, '\n', n - i);
      size_t end = nl ? (size_t)(nl - p) : n;
      for (size_t k = i; k < end && f->sz_state != SZ_STOP; k++) size_byte(f, p[k]);
      f->sz_len += (uint32_t)(end - i);
      if (nl == NULL) return f->sz_len > MAX_CHUNK_LINE ? protocol(f) : FR_MORE;
      i = end + 1;
      if (size_line_end(f) < 0) return protocol(f);
    } else if (f->cphase == CP_DATA || f->cphase == CP_DATA_CRLF) {
      double avail = (double)(n - i);
      double take = f->chunk_remaining < avail ? f->chunk_remaining : avail;
      f->chunk_remaining -= take;
      i += (size_t)take;
      if (f->chunk_remaining == 0) {
        if (f->cphase == CP_DATA) {
          f->cphase = CP_DATA_CRLF;
          f->chunk_remaining = 2;
        } else {
          f->cphase = CP_SIZE;
        }
      }
    } else {
      const uint8_t *nl = memchr(p + i, '\n', n - i);
      size_t end = nl ? (size_t)(nl - p) : n;
      if (end > i) {
        if (f->trailer_len == 0) f->trailer_first = p[i];
        /* Only 0, 1 or more matters; saturated, so that a 4 GiB line cannot wrap to blank. */
        size_t len = f->trailer_len + (end - i);
        f->trailer_len = len > 2 ? 2 : (uint32_t)len;
      }
      if (nl == NULL) return FR_MORE;
      i = end + 1;
      /* JS: trailerLine.replace('\r', '') === '' */
      if (f->trailer_len == 0 || (f->trailer_len == 1 && f->trailer_first == '\r')) {
        f->extra = i < n;
        return finish(f);
      }
      f->trailer_len = 0;
    }
  }
  return FR_MORE;
}

static int feed_body(framer *f, const uint8_t *p, size_t n) {
  if (f->body == BODY_LENGTH) {
    f->remaining -= (double)n;
    if (f->remaining < 0) f->extra = 1;
    return f->remaining <= 0 ? finish(f) : FR_MORE;
  }
  if (f->body == BODY_CHUNKED) return feed_chunked(f, p, n);
  return FR_MORE;
}

static int head_append(framer *f, const uint8_t *p, size_t n) {
  size_t need = (size_t)f->head_len + n;
  if (need > f->head_cap) {
    size_t cap = f->head_cap ? f->head_cap : 4096;
    while (cap < need) cap *= 2;
    char *h = realloc(f->head, cap);
    if (h == NULL) return -1;
    f->head = h;
    f->head_cap = (uint32_t)cap;
  }
  /* p may point into f->head (the rest after an interim response): memmove. */
  memmove(f->head + f->head_len, p, n);
  f->head_len = (uint32_t)need;
  return 0;
}

static const uint8_t *find_end_of_head(const uint8_t *s, size_t n) {
  if (n < 4) return NULL;
  const uint8_t *e = s + n;
  for (const uint8_t *p = s; p + 3 < e; p++) {
    p = memchr(p, '\r', (size_t)(e - p - 3));
    if (p == NULL) return NULL;
    if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n') return p;
  }
  return NULL;
}

static int feed_http(framer *f, const uint8_t *p, size_t n) {
  if (f->body != BODY_NONE) return feed_body(f, p, n);
  for (;;) {
    const uint8_t *all;
    size_t all_len;
    const uint8_t *eoh;
    if (f->head_len == 0) {
      eoh = find_end_of_head(p, n);
      if (eoh == NULL) {
        if (n > MAX_HEAD) return protocol(f);
        if (n > 0 && head_append(f, p, n) < 0) return -1;
        return FR_MORE;
      }
      all = p;
      all_len = n;
    } else {
      size_t old = f->head_len;
      if (head_append(f, p, n) < 0) return -1;
      size_t from = old > 3 ? old - 3 : 0;
      const uint8_t *h = (const uint8_t *)f->head;
      eoh = find_end_of_head(h + from, f->head_len - from);
      if (eoh == NULL) return f->head_len > MAX_HEAD ? protocol(f) : FR_MORE;
      all = h;
      all_len = f->head_len;
    }
    f->head_len = 0;
    size_t head_n = (size_t)(eoh - all);
    int r = parse_head(f, all, head_n);
    const uint8_t *rest = eoh + 4;
    size_t rest_n = all_len - head_n - 4;
    if (r < 0) return protocol(f);
    if (r == 1) {
      if (rest_n == 0) return FR_MORE;
      p = rest;
      n = rest_n;
      continue;
    }
    if (f->body == BODY_LENGTH && f->remaining == 0) {
      f->extra = rest_n > 0;
      return finish(f);
    }
    return feed_body(f, rest, rest_n);
  }
}

int framer_feed(framer *f, const uint8_t *p, size_t n) {
  if (f->kind == FR_BYTES) {
    f->got += n;
    if (f->got >= f->expect) {
      f->failure = FF_NONE;
      f->keep_alive = 1;
      return FR_DONE;
    }
    return FR_MORE;
  }
  return feed_http(f, p, n);
}

int framer_end(framer *f) {
  if (f->kind == FR_BYTES) {
    if (f->got < f->expect) return FR_CUT;
    f->failure = FF_NONE;
    f->keep_alive = 0;
    return FR_DONE;
  }
  if (f->body == BODY_CLOSE) return finish(f);
  return FR_CUT;
}
