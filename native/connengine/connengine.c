/*
 * connengine: a connection engine for portstorm's HTTP and raw TCP transports. Each engine owns one
 * pthread running an edge-triggered epoll loop that performs whole exchanges: non-blocking
 * socket / optional bind / connect, the TLS handshake (HTTPS: tls.c, on the OpenSSL of the Node
 * process), write the request, read until the response is complete (see framer.c, which reads the
 * decrypted bytes), close per policy. Plain C against node_api.h (and uv.h for errno names:
 * native/common/errno-name.h); Linux only.
 *
 * Two modes, chosen at create():
 *   - one-shot (`reuse: false`): a new connection per exchange, closed per policy after it.
 *   - keep-alive (poolSize > 0, HTTP `reuse: true`): at most poolSize persistent connections. An
 *     exchange takes an idle connection, else opens one while fewer than poolSize exist, else
 *     waits (FIFO) for one; its start time is when it gets a connection. A connection is kept when
 *     the response allows it (keep-alive, nothing after it, no FIN) and dropped when the peer closes
 *     or sends anything while idle. Connections close at stop/destroy (RST with policy reset).
 *
 * JS and the engine thread talk in batches, never per exchange:
 *   - JS writes slot ids into an Int32Array, and for each a "not before" time into a Float64Array
 *     (performance.now() ms; 0: at once), and calls submit(handle, n): one mutex-protected copy
 *     and, only when the engine thread sleeps in epoll_wait, one eventfd write. Exchanges due later
 *     wait in the engine's schedule (sorted by due time) and start when due: the loop's wait ends
 *     at the next one (epoll_pwait2's nanosecond timeout where the kernel has it).
 *   - The engine thread appends fixed-size records (REC_BYTES, layout below) to a queue once per
 *     loop iteration and calls the threadsafe function once until JS has taken them (see
 *     publish()); JS then calls take(handle), which copies the queue into an ArrayBuffer it reads.
 *
 * Record layout (little-endian, REC_BYTES = 128):
 *   f64[0] startedAt  f64[1] connectMs (-1: none)  f64[2] firstByteAt (-1: none)  f64[3] endedAt
 *   i32[8] type (1 connected, 2 done, 3 handshake)  i32[9] slot  i32[10] code  i32[11] phase
 *   i32[12] errno (TLS codes: the verify result or OpenSSL's packed error)  i32[13] syscall
 *   i32[14] localPort (-1: none)  i32[15] detail (TLS codes: index of a message, text(), or -1)
 *   i32[16] local address index
 *   i32[17] HTTP status of the response head, once the head of the final response was parsed (else 0)
 *   i32[18] handshake records: 1 when the session was resumed
 *   bytes 80..127: NUL-terminated "address:port" of the socket (detail 1)
 * A handshake record (one per completed TLS handshake) carries the handshake's time, from the TCP
 * connect to its end, in f64[1].
 * Times are performance.now() milliseconds: CLOCK_MONOTONIC nanoseconds minus the origin JS passes
 * to create() (the monotonic reading at which performance.now() was 0), divided by 1e6.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "errno-name.h"
#include "framer.h"
#include "tls.h"

#define ENGINE_VERSION 4
#define REC_BYTES 128
#define SUB_CAP 4096
#define OUT_CAP 4096
#define READ_BYTES (64 * 1024)
#define MAX_EVENTS 256
#define CONN_BLOCK 256
/* The smallest MSS a TCP peer may announce (RFC 1122 default). */
#define NAGLE_SAFE_BYTES 536
/*
 * How long "connected" records may wait for a completion before they wake JS on their own. JS
 * counts a connection in the second it hears of it; this bounds how late that can be.
 */
#define CONNECTED_DELAY_NS 1000000
/* Linux 4.2 (commit 90c337da1524); older libc headers lack the name. */
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { REC_CONNECTED = 1, REC_DONE = 2, REC_HANDSHAKE = 3 };
enum {
  CODE_OK = 0,
  CODE_ERRNO = 1,
  CODE_CONNECT_TIMEOUT = 2,
  CODE_REQUEST_TIMEOUT = 3,
  CODE_PREMATURE_END = 4,    /* the peer's FIN before a complete response */
  CODE_PREMATURE_CLOSED = 5, /* closed by portstorm before a complete response */
  CODE_HTTP_4XX = 6,
  CODE_HTTP_5XX = 7,
  CODE_PROTOCOL = 8,
  CODE_ABORTED = 9,
  CODE_NOT_STARTED = 10, /* scheduled, cancelled before its time: nothing was sent */
  CODE_TLS_DISCONNECT = 11, /* the peer closed during the handshake */
  CODE_TLS_VERIFY = 12,     /* the certificate failed verification (errno: the verify result) */
  CODE_TLS_ERROR = 13,      /* an OpenSSL error (errno: its packed code) */
  CODE_TLS_TIMEOUT = 14,    /* no complete handshake within the handshake timeout */
};
/* PH_TLS comes last to keep the older numbers. */
enum { PH_CONNECT = 0, PH_SEND = 1, PH_RESPONSE = 2, PH_TLS = 3 };
enum { SYS_CONNECT = 0, SYS_BIND = 1, SYS_READ = 2, SYS_WRITE = 3, SYS_SETSOCKOPT = 4 };
/* Node's connect() error message: nothing more, " - Local (addr:port)", " - Local (undefined:undefined)". */
enum { DETAIL_NONE = 0, DETAIL_LOCAL = 1, DETAIL_UNDEFINED = 2 };
enum { POLICY_CLIENT = 0, POLICY_SERVER = 1, POLICY_RESET = 2 };
enum { CS_FREE = 0, CS_CONNECTING, CS_TLS, CS_OPEN, CS_LINGER, CS_IDLE };
/*
 * Connection lists: every open connection is in exactly one. The first L_TIMED are timer lists,
 * whose deadlines are FIFO (each push is now + a fixed timeout); L_IDLE (keep-alive) has none.
 */
enum { L_CONNECT = 0, L_TLS = 1, L_REQUEST = 2, L_LINGER = 3, L_TIMED = 4, L_IDLE = 4, L_COUNT = 5, L_NONE = 255 };

typedef struct rec {
  double started_at;
  double connect_ms;
  double first_byte_at;
  double ended_at;
  int32_t type, slot, code, phase, err, syscall, local_port, detail, local_index, status;
  int32_t resumed, pad;
  char text[48];
} rec;
_Static_assert(sizeof(rec) == REC_BYTES, "record size");

typedef struct conn {
  struct conn *prev, *next;
  int64_t deadline;
  int64_t t_start, t_conn, t_first;
  int fd;
  uint32_t slot;
  int32_t local_index;
  int32_t local_port;
  uint32_t sent;
  uint8_t state, phase, list, settled, eof;
  uint8_t fresh; /* the current exchange opened this connection (it reports connectMs) */
  struct ssl_st *ssl; /* HTTPS: from the TCP connect until the connection is released */
  int32_t tls_text;   /* a host name mismatch's message (tls.c) */
  framer fr;
} conn;

/* A submitted exchange: its slot id and when it may start (CLOCK_MONOTONIC ns; 0: at once). */
typedef struct sub {
  int64_t due;
  uint32_t slot;
} sub;

/*
 * An exchange's outcome whose record could not be allocated (out of memory): kept in the engine's
 * orphan array, whose room submit() reserves (one entry per exchange not yet reported to JS), so
 * reporting it never allocates. take() turns orphans into records in the records buffer.
 */
typedef struct orphan {
  uint32_t slot;
  int32_t code, phase, err, syscall;
} orphan;

/* fault(handle, mask) test hook: allocations on the engine thread that fail on purpose. */
enum {
  FAULT_RECORD = 1, /* batch_add */
  FAULT_QUEUE = 2,  /* growing the queue to JS */
  FAULT_CONN = 4,   /* conn_alloc */
  FAULT_SUBMIT = 8, /* submit()'s reservation (JS thread): submit throws ENOMEM */
  FAULT_NO_PORT = 16, /* a socket's IP_BIND_ADDRESS_NO_PORT setsockopt fails with ENOPROTOOPT */
};

typedef struct list {
  conn *head, *tail;
} list;

typedef struct block {
  struct block *next;
  conn conns[CONN_BLOCK];
} block;

typedef struct engine {
  /* Configuration: written by create(), read-only afterwards. */
  int family;
  struct sockaddr_storage target;
  socklen_t target_len;
  struct sockaddr_storage *locals;
  uint8_t *local_ok;
  int n_locals;
  /*
   * Set IP_BIND_ADDRESS_NO_PORT before bind(): bind() then fixes the source address only and
   * connect() picks the port per (source, destination ip:port), as without bind().
   */
  int bind_no_port;
  int policy;
  int64_t connect_timeout_ns, request_timeout_ns;
  tls_ctx *tls; /* HTTPS, or NULL */
  int64_t handshake_timeout_ns;
  uint8_t *request;
  uint32_t request_len;
  int reader_kind, is_head;
  int sched_batch; /* run the engine thread as SCHED_BATCH */
  uint32_t pool_size; /* keep-alive: most connections at once; 0: one-shot */
  uint64_t expect;
  int64_t origin_ns;
  int epfd, evfd;

  /* Shared between the JS thread and the engine thread, under mu. */
  pthread_mutex_t mu;
  sub *subq;
  size_t subq_len, subq_cap;
  int cmd_abort, cmd_destroy, cmd_stop;
  int64_t cancel_ns; /* scheduled exchanges due after this never start (INT64_MAX: none cancelled) */
  int sleeping, wake_pending;
  rec *outq;
  size_t outq_len, outq_cap;
  int notified;
  orphan *orphans; /* room for `unsettled` entries, reserved by submit() */
  size_t orphans_len, orphans_cap;
  size_t unsettled; /* exchanges submitted whose "done" record JS has not taken yet */
  atomic_int faults; /* FAULT_* bits (the fault() test hook) */
  atomic_int open_count;
  /* Counters for stats(): wake-ups each way, engine loop iterations, exchanges started. */
  atomic_ulong n_wake_engine, n_notify_js, n_iterations, n_started;

  /* Engine thread only. */
  pthread_t thread;
  sub *starting;
  size_t starting_cap;
  sub *sched; /* exchanges not due yet, [sched_head, sched_len), sorted by due time (stable) */
  size_t sched_head, sched_len, sched_cap;
  int no_pwait2; /* epoll_pwait2 returned ENOSYS: wait in milliseconds */
  conn *free_conns;
  block *blocks;
  list lists[L_COUNT];
  rec *batch;
  size_t batch_len, batch_cap;
  size_t batch_done;          /* "done" records in the batch */
  int64_t connected_deadline; /* when queued "connected" records wake JS anyway (0: none waiting) */
  int orphaned;               /* orphans were added since the last publish() */
  uint32_t next_local;
  uint8_t *rbuf;
  uint32_t n_conns; /* connections allocated (keep-alive counts them against pool_size) */
  /* Keep-alive: exchanges waiting for a connection, a FIFO ring. */
  uint32_t *waitq;
  size_t wq_head, wq_len, wq_cap;

  /* JS thread only. */
  napi_env env;
  napi_threadsafe_function tsfn;
  napi_ref sub_ref, due_ref, out_ref;
  int32_t *js_sub;
  double *js_due;
  rec *js_out;
  uint32_t outstanding;
  int refed;
  int thread_started;
  int shut;
  int refs;
} engine;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double perf_ms(const engine *e, int64_t t) { return (double)(t - e->origin_ns) / 1e6; }

/* ---- timer lists ---- */

static void list_remove(engine *e, conn *c) {
  if (c->list == L_NONE) return;
  list *l = &e->lists[c->list];
  if (c->prev) c->prev->next = c->next;
  else l->head = c->next;
  if (c->next) c->next->prev = c->prev;
  else l->tail = c->prev;
  c->prev = c->next = NULL;
  c->list = L_NONE;
}

static void list_push(engine *e, conn *c, int which, int64_t deadline) {
  list_remove(e, c);
  list *l = &e->lists[which];
  c->deadline = deadline;
  c->list = (uint8_t)which;
  c->prev = l->tail;
  c->next = NULL;
  if (l->tail) l->tail->next = c;
  else l->head = c;
  l->tail = c;
}

/* ---- connection objects ---- */

static int faulty(engine *e, int which) { return (atomic_load_explicit(&e->faults, memory_order_relaxed) & which) != 0; }

static conn *conn_alloc(engine *e) {
  if (e->free_conns == NULL) {
    block *b = faulty(e, FAULT_CONN) ? NULL : calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    b->next = e->blocks;
    e->blocks = b;
    for (int i = CONN_BLOCK - 1; i >= 0; i--) {
      b->conns[i].next = e->free_conns;
      e->free_conns = &b->conns[i];
    }
  }
  conn *c = e->free_conns;
  e->free_conns = c->next;
  e->n_conns++;
  c->prev = c->next = NULL;
  c->list = L_NONE;
  c->fd = -1;
  c->sent = 0;
  c->t_conn = c->t_first = 0;
  c->local_port = -1;
  c->settled = c->eof = 0;
  c->fresh = 1;
  c->ssl = NULL;
  c->phase = PH_CONNECT;
  c->state = CS_CONNECTING;
  framer_init(&c->fr, e->reader_kind, e->is_head, e->expect);
  return c;
}

static void conn_release(engine *e, conn *c) {
  list_remove(e, c);
  if (c->ssl != NULL) {
    tls_conn_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
    atomic_fetch_sub_explicit(&e->open_count, 1, memory_order_relaxed);
  }
  /* A head buffer that grew past a typical head is not kept. */
  if (c->fr.head_cap > 16384) framer_free(&c->fr);
  e->n_conns--;
  c->state = CS_FREE;
  c->next = e->free_conns;
  e->free_conns = c;
}

/* ---- records ---- */

static rec *batch_add(engine *e) {
  if (faulty(e, FAULT_RECORD)) return NULL;
  if (e->batch_len == e->batch_cap) {
    size_t cap = e->batch_cap ? e->batch_cap * 2 : 256;
    rec *b = realloc(e->batch, cap * sizeof *b);
    if (b == NULL) return NULL;
    e->batch = b;
    e->batch_cap = cap;
  }
  rec *r = &e->batch[e->batch_len++];
  memset(r, 0, offsetof(rec, text) + 1);
  return r;
}

/*
 * Keeps an outcome whose record could not be allocated. Never allocates: submit() reserved room for
 * every exchange JS has not heard the end of, and each ends once.
 */
static void orphan_push(engine *e, uint32_t slot, int code, int phase, int err, int syscall) {
  pthread_mutex_lock(&e->mu);
  if (e->orphans_len < e->orphans_cap) e->orphans[e->orphans_len++] = (orphan){slot, code, phase, err, syscall};
  pthread_mutex_unlock(&e->mu);
  e->orphaned = 1;
}

/*
 * Hands the iteration's records to JS: one lock, and one wake-up call when the queue was empty.
 * Batches holding only "connected" records do not wake JS at once: they wait (at most
 * CONNECTED_DELAY_NS) for the next completion to travel with, which halves the wake-ups.
 */
static void publish(engine *e, int64_t now) {
  int notify = 0;
  if (e->batch_len > 0) {
    pthread_mutex_lock(&e->mu);
    size_t need = e->outq_len + e->batch_len;
    rec *q = e->outq;
    if (need > e->outq_cap) {
      size_t cap = e->outq_cap ? e->outq_cap : 1024;
      while (cap < need) cap *= 2;
      q = faulty(e, FAULT_QUEUE) ? NULL : realloc(e->outq, cap * sizeof *q);
      if (q != NULL) {
        e->outq = q;
        e->outq_cap = cap;
      }
    }
    if (q != NULL) {
      memcpy(e->outq + e->outq_len, e->batch, e->batch_len * sizeof(rec));
      e->outq_len = need;
    } else {
      /*
       * Out of memory: the "done" records become orphans (their room is reserved) and the
       * "connected" ones are dropped; nothing waits for a retry that might never come.
       */
      for (size_t i = 0; i < e->batch_len; i++) {
        const rec *r = &e->batch[i];
        if (r->type == REC_DONE && e->orphans_len < e->orphans_cap) {
          e->orphans[e->orphans_len++] = (orphan){(uint32_t)r->slot, r->code, r->phase, r->err, r->syscall};
        }
      }
      e->orphaned = 1;
    }
    if (!e->notified) {
      if (e->batch_done > 0 || e->orphaned || (e->connected_deadline != 0 && now >= e->connected_deadline)) notify = 1;
      else if (e->connected_deadline == 0) e->connected_deadline = now + CONNECTED_DELAY_NS;
    }
    if (notify) e->notified = 1;
    pthread_mutex_unlock(&e->mu);
    e->batch_len = 0;
    e->batch_done = 0;
  } else if (e->orphaned || (e->connected_deadline != 0 && now >= e->connected_deadline)) {
    pthread_mutex_lock(&e->mu);
    if (!e->notified && (e->outq_len > 0 || e->orphans_len > 0)) notify = e->notified = 1;
    pthread_mutex_unlock(&e->mu);
    if (!notify) e->connected_deadline = 0;
  }
  e->orphaned = 0;
  if (notify) {
    e->connected_deadline = 0;
    atomic_fetch_add_explicit(&e->n_notify_js, 1, memory_order_relaxed);
    if (napi_call_threadsafe_function(e->tsfn, NULL, napi_tsfn_nonblocking) != napi_ok) {
      /* Not queued (out of memory): try again within CONNECTED_DELAY_NS (see next_deadline()). */
      pthread_mutex_lock(&e->mu);
      e->notified = 0;
      pthread_mutex_unlock(&e->mu);
      e->connected_deadline = now + CONNECTED_DELAY_NS;
    }
  }
}

static void format_sockname(engine *e, int fd, char *out, size_t n) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char addr[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
      port = ntohs(a->sin6_port);
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
      port = ntohs(a->sin_port);
    }
  } else {
    strcpy(addr, e->family == 6 ? "::" : "0.0.0.0");
  }
  snprintf(out, n, "%s:%d", addr, port);
}

/* Reports the exchange's outcome (once); its record, or NULL (already settled, or an orphan). */
static rec *settle(engine *e, conn *c, int code, int phase, int err, int syscall, int detail) {
  if (c->settled) return NULL;
  c->settled = 1;
  rec *r = batch_add(e);
  if (r == NULL) {
    orphan_push(e, c->slot, code, phase, err, syscall);
    return NULL;
  }
  r->type = REC_DONE;
  e->batch_done++;
  r->slot = (int32_t)c->slot;
  r->code = code;
  r->phase = phase;
  r->err = err;
  r->syscall = syscall;
  r->detail = detail;
  r->local_index = c->local_index;
  r->local_port = c->t_conn ? c->local_port : -1;
  r->started_at = perf_ms(e, c->t_start);
  r->connect_ms = c->t_conn && c->fresh ? (double)(c->t_conn - c->t_start) / 1e6 : -1;
  r->status = framer_head_done(&c->fr) ? c->fr.status : 0;
  r->first_byte_at = c->t_first ? perf_ms(e, c->t_first) : -1;
  r->ended_at = perf_ms(e, now_ns());
  if (detail == DETAIL_LOCAL) format_sockname(e, c->fd, r->text, sizeof r->text);
  return r;
}

static void fail(engine *e, conn *c, int code, int phase) {
  settle(e, c, code, phase, 0, 0, DETAIL_NONE);
  conn_release(e, c);
}

static void fail_errno(engine *e, conn *c, int err, int syscall, int detail) {
  int before_connect = syscall == SYS_CONNECT || syscall == SYS_BIND || syscall == SYS_SETSOCKOPT;
  settle(e, c, CODE_ERRNO, before_connect ? PH_CONNECT : c->phase, err, syscall, detail);
  conn_release(e, c);
}

/* A failed TLS call (tls.c), in the connection's phase. */
static void fail_tls(engine *e, conn *c, const tls_failure *f) {
  if (f->kind == TLSF_ERRNO) {
    fail_errno(e, c, f->err, f->write ? SYS_WRITE : SYS_READ, DETAIL_NONE);
    return;
  }
  int code = f->kind == TLSF_VERIFY ? CODE_TLS_VERIFY : f->kind == TLSF_LIB ? CODE_TLS_ERROR : CODE_TLS_DISCONNECT;
  rec *r = settle(e, c, code, c->phase, f->err, 0, DETAIL_NONE);
  if (r != NULL) r->detail = f->text;
  conn_release(e, c);
}

/*
 * HTTPS, closing first: close_notify and the FIN in one segment. Sent apart, a server that closes
 * as soon as it reads the close_notify (nginx) often sends its FIN before ours leaves, and TIME_WAIT
 * lands on the server (measured against nginx: 291 of 400); so the close_notify is held by TCP_CORK
 * and shutdown()'s FIN, which pushes the queue regardless of the cork, goes out on the same segment.
 * A server that answers with its own close_notify (node:tls, Go) would send it to a closed socket,
 * which answers data with a RST (RFC 1122) and ends in CLOSED instead of TIME_WAIT; so the socket is
 * only shut for writing and stays open (bounded by the request timeout) until the server's FIN
 * (linger_read), then closed: TIME_WAIT on this side.
 */
static void tls_close_first(engine *e, conn *c) {
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
  tls_close_notify(c->ssl);
  shutdown(c->fd, SHUT_WR);
  c->state = CS_LINGER;
  list_push(e, c, L_LINGER, now_ns() + e->request_timeout_ns);
}

/*
 * The response is complete: report it, then close as the policy says, or (keep-alive) keep the
 * connection idle when the response allows it and nothing came after it.
 */
static void after_response(engine *e, conn *c) {
  int f = c->fr.failure;
  int code = f == FF_HTTP_4XX ? CODE_HTTP_4XX : f == FF_HTTP_5XX ? CODE_HTTP_5XX : f == FF_PROTOCOL ? CODE_PROTOCOL : CODE_OK;
  settle(e, c, code, PH_RESPONSE, 0, 0, DETAIL_NONE);
  if (e->pool_size > 0) {
    if (c->fr.keep_alive && !c->fr.extra && !c->eof) {
      c->state = CS_IDLE;
      list_push(e, c, L_IDLE, 0);
    } else {
      conn_release(e, c);
    }
  } else if (e->policy == POLICY_RESET) {
    /* l_linger 0: close() sends RST and skips TIME_WAIT. */
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    conn_release(e, c);
  } else if (e->policy == POLICY_CLIENT && c->ssl != NULL && !c->eof) {
    tls_close_first(e, c);
  } else if (e->policy == POLICY_CLIENT || c->eof) {
    conn_release(e, c);
  } else {
    /* close: server: wait (bounded) for the target's FIN so that the target closes first. */
    c->state = CS_LINGER;
    list_push(e, c, L_LINGER, now_ns() + e->request_timeout_ns);
  }
}

/* Writes what is left of the request. Returns 0 while the connection lives, -1 once released or lingering. */
static int do_write(engine *e, conn *c) {
  while (c->sent < e->request_len) {
    if (c->ssl != NULL) {
      tls_failure f;
      uint32_t left = e->request_len - c->sent;
      /* After TLS_AGAIN the same bytes are offered again, as SSL_write requires. */
      int w = tls_write(c->ssl, e->request + c->sent, left > INT32_MAX ? INT32_MAX : (int)left, &f);
      if (w > 0) {
        c->sent += (uint32_t)w;
        continue;
      }
      if (w == TLS_AGAIN) return 0;
      fail_tls(e, c, &f);
      return -1;
    }
    ssize_t w = send(c->fd, e->request + c->sent, e->request_len - c->sent, MSG_NOSIGNAL);
    if (w >= 0) {
      c->sent += (uint32_t)w;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    fail_errno(e, c, errno, SYS_WRITE, DETAIL_NONE);
    return -1;
  }
  if (c->phase == PH_SEND) {
    c->phase = PH_RESPONSE;
    /* A reader that expects nothing (expectBytes: 0) is complete once the request is sent. */
    if (framer_feed(&c->fr, NULL, 0) == FR_DONE) {
      after_response(e, c);
      return -1;
    }
  }
  return 0;
}

#define HANGUP (EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/*
 * Response bytes arrived in e->rbuf: times the first and feeds the framer. Returns FR_DONE or
 * FR_MORE, or -1 once the connection is released (bytes nobody asked for on an idle connection,
 * which is out of step with the target; or out of memory).
 */
static int take_response(engine *e, conn *c, size_t n) {
  if (c->state == CS_IDLE) {
    conn_release(e, c);
    return -1;
  }
  if (!c->t_first) c->t_first = now_ns();
  c->phase = PH_RESPONSE;
  int r = framer_feed(&c->fr, e->rbuf, n);
  if (r < 0) {
    fail_errno(e, c, ENOMEM, SYS_READ, DETAIL_NONE);
    return -1;
  }
  return r;
}

/*
 * Reads until EAGAIN, the response's end, or the peer's FIN. With edge-triggered epoll a short read
 * means the socket was drained at that moment: any later byte or FIN raises a new edge, and a FIN
 * already queued shows in `events` as EPOLLRDHUP; so a short read without it ends the loop.
 */
static void read_loop(engine *e, conn *c, uint32_t events) {
  for (;;) {
    ssize_t n = read(c->fd, e->rbuf, READ_BYTES);
    if (n > 0) {
      int more = (size_t)n == READ_BYTES || (events & HANGUP);
      if (c->state == CS_LINGER) {
        if (!more) return;
        continue;
      }
      int r = take_response(e, c, (size_t)n);
      if (r < 0) return;
      if (r == FR_DONE) {
        after_response(e, c);
        if (c->state == CS_IDLE) {
          /* The target closed (or failed) in the same edge: the connection is not reusable. */
          if (events & HANGUP) conn_release(e, c);
          else if ((size_t)n == READ_BYTES) continue; /* anything more is unsolicited */
          return;
        }
        if (c->state != CS_LINGER) return;
        /*
         * close: server waits for the FIN. EPOLLRDHUP in this edge means it came before this read,
         * which (short) took every byte before it: the next read could only return 0.
         */
        if ((events & EPOLLRDHUP) && (size_t)n < READ_BYTES) {
          conn_release(e, c);
          return;
        }
      }
      if (!more) return;
      continue;
    }
    if (n == 0) {
      if (c->state == CS_LINGER || c->state == CS_IDLE) {
        conn_release(e, c);
        return;
      }
      c->eof = 1;
      if (framer_end(&c->fr) == FR_DONE) after_response(e, c);
      else fail(e, c, CODE_PREMATURE_END, c->phase);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;
    if (c->state == CS_LINGER || c->state == CS_IDLE) conn_release(e, c);
    else fail_errno(e, c, errno, SYS_READ, DETAIL_NONE);
    return;
  }
}

/*
 * A connection that waits for the peer's FIN after its response (close: server), or after its own
 * (close: client over TLS): reads and drops whatever comes (close_notify) until the FIN, then
 * closes. Raw reads: OpenSSL has no part in it any more. A FIN that OpenSSL already read reads again
 * as 0, so this is called at once when the wait begins, and on every event after.
 */
static void linger_read(engine *e, conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, e->rbuf, READ_BYTES);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    if (n < 0 && errno == EAGAIN) return;
    conn_release(e, c);
    return;
  }
}

/*
 * HTTPS: reads decrypted bytes until OpenSSL wants the socket again (TLS_AGAIN, after a read that
 * found it empty). A short read does not mean the socket is drained: OpenSSL returns one record at
 * a time and keeps the rest of what it read (read-ahead), which epoll will not report again; records
 * that carry no data (TLS 1.3 session tickets) are consumed on the way.
 */
static void tls_read_loop(engine *e, conn *c) {
  for (;;) {
    int tcp_eof = 0;
    tls_failure f;
    int n = tls_read(c->ssl, e->rbuf, READ_BYTES, &tcp_eof, &f);
    if (n > 0) {
      int r = take_response(e, c, (size_t)n);
      if (r < 0) return;
      if (r == FR_DONE) {
        after_response(e, c);
        /* Kept alive: read on, so that anything after the response (or the peer's close) shows. */
        if (c->state == CS_IDLE) continue;
        if (c->state == CS_LINGER) linger_read(e, c);
        return;
      }
      continue;
    }
    if (n == TLS_AGAIN) return;
    if (n == TLS_EOF) {
      if (c->state == CS_IDLE) {
        conn_release(e, c);
        return;
      }
      c->eof = (uint8_t)tcp_eof;
      if (framer_end(&c->fr) == FR_DONE) {
        after_response(e, c);
        if (c->state == CS_LINGER) linger_read(e, c);
      } else {
        fail(e, c, CODE_PREMATURE_END, c->phase);
      }
      return;
    }
    if (c->state == CS_IDLE) conn_release(e, c);
    else fail_tls(e, c, &f);
    return;
  }
}

/*
 * One step of the TLS handshake (on every socket event until it completes). Once complete: reports
 * it (a handshake record), sends the request, and reads what OpenSSL may already hold.
 */
static void tls_step(engine *e, conn *c) {
  tls_failure f;
  int r = tls_handshake(c->ssl, &f);
  if (r == TLS_AGAIN) return;
  if (r == TLS_FAILED) {
    fail_tls(e, c, &f);
    return;
  }
  int64_t now = now_ns();
  rec *h = batch_add(e);
  if (h != NULL) {
    h->type = REC_HANDSHAKE;
    h->slot = (int32_t)c->slot;
    h->connect_ms = (double)(now - c->t_conn) / 1e6;
    h->resumed = tls_resumed(c->ssl);
    h->local_port = c->local_port;
    h->local_index = c->local_index;
  }
  c->state = CS_OPEN;
  c->phase = PH_SEND;
  list_push(e, c, L_REQUEST, now + e->request_timeout_ns);
  if (do_write(e, c) < 0) {
    if (c->state == CS_LINGER) linger_read(e, c);
    return;
  }
  tls_read_loop(e, c);
}

/* HTTPS: the TCP connection is up; starts the handshake. */
static void begin_tls(engine *e, conn *c) {
  c->ssl = tls_conn_new(e->tls, c->fd, &c->tls_text);
  if (c->ssl == NULL) {
    fail_errno(e, c, ENOMEM, SYS_WRITE, DETAIL_NONE);
    return;
  }
  tls_step(e, c);
}

/* connect() completed: records the time and local port and reports the connection. */
static void mark_connected(engine *e, conn *c) {
  c->t_conn = now_ns();
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
    c->local_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  }
  rec *r = batch_add(e);
  if (r != NULL) {
    r->type = REC_CONNECTED;
    r->slot = (int32_t)c->slot;
    r->connect_ms = (double)(c->t_conn - c->t_start) / 1e6;
    r->local_port = c->local_port;
    r->local_index = c->local_index;
  }
  if (e->tls != NULL) {
    /* The handshake's time and timeout count from here. */
    c->state = CS_TLS;
    c->phase = PH_TLS;
    list_push(e, c, L_TLS, c->t_conn + e->handshake_timeout_ns);
    return;
  }
  c->state = CS_OPEN;
  c->phase = PH_SEND;
  list_push(e, c, L_REQUEST, c->t_conn + e->request_timeout_ns);
}

/* connect() completed (EPOLLOUT): report it, then send the request (HTTPS: start the handshake). */
static void connected(engine *e, conn *c, uint32_t events) {
  mark_connected(e, c);
  if (e->tls != NULL) {
    begin_tls(e, c);
    return;
  }
  if (do_write(e, c) < 0) return;
  if (events & (EPOLLIN | HANGUP)) read_loop(e, c, events);
}

/* Errors a send() on a socket whose connect() has not completed reports: the connect's own. */
static int is_connect_error(int err) { return err != EPIPE && err != ECONNRESET; }

static void start(engine *e, uint32_t slot) {
  atomic_fetch_add_explicit(&e->n_started, 1, memory_order_relaxed);
  conn *c = conn_alloc(e);
  if (c == NULL) {
    /* Out of memory: report the exchange without a connection. */
    conn tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.slot = slot;
    tmp.fd = -1;
    tmp.local_index = -1;
    tmp.t_start = now_ns();
    settle(e, &tmp, CODE_ERRNO, PH_CONNECT, ENOMEM, SYS_CONNECT, DETAIL_UNDEFINED);
    return;
  }
  c->slot = slot;
  c->t_start = now_ns();
  int li = -1;
  if (e->n_locals > 0) li = (int)(e->next_local++ % (uint32_t)e->n_locals);
  c->local_index = li;
  int fd = socket(e->family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    /* Node creates the socket in bind() when there is a local address, else in connect(). */
    fail_errno(e, c, errno, li >= 0 ? SYS_BIND : SYS_CONNECT, li >= 0 ? DETAIL_NONE : DETAIL_UNDEFINED);
    return;
  }
  c->fd = fd;
  atomic_fetch_add_explicit(&e->open_count, 1, memory_order_relaxed);
  int one = 1;
  /*
   * Node sets noDelay. A request no longer than the smallest MSS leaves as one segment with nothing
   * unacknowledged before it, which Nagle's algorithm never holds back: the option only matters for
   * longer requests, and the syscall is saved otherwise. A kept-alive connection sends again
   * while earlier segments may be unacknowledged, so it always sets it, and so does TLS, whose
   * handshake flights are several writes (Nagle would hold the next until the first is acknowledged).
   */
  if (e->request_len > NAGLE_SAFE_BYTES || e->pool_size > 0 || e->tls != NULL) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (li >= 0) {
    if (!e->local_ok[li]) {
      fail_errno(e, c, EINVAL, SYS_BIND, DETAIL_NONE);
      return;
    }
    if (e->bind_no_port) {
      /* Level IPPROTO_IP on AF_INET6 sockets too: ipv6_setsockopt passes SOL_IP to the IPv4 code,
       * whose flag inet6_bind reads (test/integration/source-addresses.test.ts, IPv6). */
      int rc = faulty(e, FAULT_NO_PORT) ? (errno = ENOPROTOOPT, -1) : setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      /* Never fall back to a plain bind(): the record says bind-no-port for every connection. */
      if (rc < 0) {
        fail_errno(e, c, errno, SYS_SETSOCKOPT, DETAIL_NONE);
        return;
      }
    }
    /*
     * As libuv's uv_tcp_bind: SO_REUSEADDR, then bind to port 0. Without IP_BIND_ADDRESS_NO_PORT the
     * port is picked here, exclusive to this source address whatever the destination; with it,
     * connect() picks it.
     */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
      fail_errno(e, c, errno, SYS_SETSOCKOPT, DETAIL_NONE);
      return;
    }
    socklen_t len = e->family == 6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&e->locals[li], len) < 0) {
      int err = errno;
      /* libuv keeps a bind EADDRINUSE for the connect, which then fails with it asynchronously. */
      if (err == EADDRINUSE) fail_errno(e, c, err, SYS_CONNECT, DETAIL_NONE);
      else fail_errno(e, c, err == EAFNOSUPPORT ? EINVAL : err, SYS_BIND, DETAIL_NONE);
      return;
    }
  }
  int r = connect(fd, (struct sockaddr *)&e->target, e->target_len);
  if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
    int err = errno;
    /* libuv reports a synchronous ECONNREFUSED later, as Node's asynchronous connect error. */
    fail_errno(e, c, err, SYS_CONNECT, err == ECONNREFUSED ? DETAIL_NONE : DETAIL_LOCAL);
    return;
  }
  list_push(e, c, L_CONNECT, c->t_start + e->connect_timeout_ns);
  /*
   * Over loopback the whole handshake runs inside connect() (the SYN-ACK is processed when it
   * releases the socket), so the request is tried at once: a send() on a socket still in SYN_SENT
   * fails with EAGAIN and nothing else, or with the pending connect error (which it consumes).
   */
  /*
   * HTTPS first needs to know whether the connection is up (the handshake is timed from then): a
   * zero-length send() answers as a send() would (0, EAGAIN, or the connect's error).
   */
  ssize_t w = send(fd, e->request, e->tls != NULL ? 0 : e->request_len, MSG_NOSIGNAL);
  if (w >= 0 && e->tls != NULL) {
    mark_connected(e, c);
    begin_tls(e, c);
    if (c->state == CS_FREE) return;
  } else if (w >= 0) {
    mark_connected(e, c);
    c->sent = (uint32_t)w;
    /* The request may complete the exchange (expectBytes: 0); close: server still waits for the FIN. */
    if (do_write(e, c) < 0 && c->state == CS_FREE) return;
  } else if (errno != EAGAIN && errno != EINTR) {
    int err = errno;
    if (is_connect_error(err)) {
      fail_errno(e, c, err, SYS_CONNECT, DETAIL_NONE);
    } else {
      mark_connected(e, c);
      fail_errno(e, c, err, SYS_WRITE, DETAIL_NONE);
    }
    return;
  }
  /*
   * Writability matters only until the request is out, but a kept-alive connection sends again
   * later: it keeps EPOLLOUT (edge-triggered, it only fires again after a write found no space).
   */
  int writing = c->state == CS_CONNECTING || c->sent < e->request_len || e->pool_size > 0 || e->tls != NULL;
  uint32_t want = EPOLLIN | EPOLLRDHUP | EPOLLET | (writing ? EPOLLOUT : 0);
  struct epoll_event ev = {.events = want, .data.ptr = c};
  if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    fail_errno(e, c, errno, c->state == CS_CONNECTING ? SYS_CONNECT : SYS_READ, DETAIL_NONE);
    return;
  }
}

/* Keep-alive: starts exchange `slot` on idle connection c. */
static void assign(engine *e, conn *c, uint32_t slot) {
  atomic_fetch_add_explicit(&e->n_started, 1, memory_order_relaxed);
  c->slot = slot;
  c->t_start = now_ns();
  c->t_first = 0;
  c->sent = 0;
  c->settled = 0;
  c->fresh = 0;
  c->phase = PH_SEND;
  c->state = CS_OPEN;
  framer_init(&c->fr, e->reader_kind, e->is_head, e->expect);
  list_push(e, c, L_REQUEST, c->t_start + e->request_timeout_ns);
  do_write(e, c);
}

static void wait_push(engine *e, uint32_t slot) {
  if (e->wq_len == e->wq_cap) {
    size_t cap = e->wq_cap ? e->wq_cap * 2 : 1024;
    uint32_t *q = malloc(cap * sizeof *q);
    if (q == NULL) {
      conn tmp;
      memset(&tmp, 0, sizeof tmp);
      tmp.slot = slot;
      tmp.local_index = -1;
      tmp.t_start = now_ns();
      settle(e, &tmp, CODE_ERRNO, PH_CONNECT, ENOMEM, SYS_CONNECT, DETAIL_UNDEFINED);
      return;
    }
    for (size_t i = 0; i < e->wq_len; i++) q[i] = e->waitq[(e->wq_head + i) % e->wq_cap];
    free(e->waitq);
    e->waitq = q;
    e->wq_cap = cap;
    e->wq_head = 0;
  }
  e->waitq[(e->wq_head + e->wq_len++) % e->wq_cap] = slot;
}

static uint32_t wait_pop(engine *e) {
  uint32_t slot = e->waitq[e->wq_head];
  e->wq_head = (e->wq_head + 1) % e->wq_cap;
  e->wq_len--;
  return slot;
}

/* Keep-alive: gives waiting exchanges a connection, idle ones first, new ones up to pool_size. */
static void pump(engine *e) {
  while (e->wq_len > 0) {
    conn *c = e->lists[L_IDLE].head;
    if (c != NULL) assign(e, c, wait_pop(e));
    else if (e->n_conns < e->pool_size) start(e, wait_pop(e));
    else return;
  }
}

/* Ends every waiting exchange with `code` (keep-alive; they never had a connection). */
static void settle_waiting(engine *e, int code) {
  while (e->wq_len > 0) {
    conn tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.slot = wait_pop(e);
    tmp.local_index = -1;
    tmp.t_start = now_ns();
    settle(e, &tmp, code, PH_CONNECT, 0, 0, DETAIL_NONE);
  }
}

static void on_event(engine *e, conn *c, uint32_t events) {
  if (c->state == CS_CONNECTING) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0 && !(events & EPOLLOUT)) err = ECONNREFUSED;
      if (err != 0) {
        fail_errno(e, c, err, SYS_CONNECT, DETAIL_NONE);
        return;
      }
    }
    if (events & EPOLLOUT) connected(e, c, events);
    return;
  }
  if (c->state == CS_TLS) {
    tls_step(e, c);
    return;
  }
  if (c->ssl != NULL) {
    /* Any event: OpenSSL may want to write while reading (and the reverse); reads that find nothing are cheap. */
    if (c->state == CS_OPEN) {
      tls_read_loop(e, c);
      if (c->state == CS_OPEN && c->sent < e->request_len) do_write(e, c);
    } else if (c->state == CS_LINGER) {
      linger_read(e, c);
    } else if (c->state == CS_IDLE && (events & (EPOLLIN | HANGUP))) {
      tls_read_loop(e, c);
    }
    return;
  }
  if (c->state == CS_OPEN) {
    /* libuv handles POLLIN before POLLOUT: a reset shows as a read error, as in Node. */
    if (events & (EPOLLIN | HANGUP)) {
      read_loop(e, c, events);
      if (c->state != CS_OPEN) return;
    }
    if (c->sent < e->request_len && (events & (EPOLLOUT | HANGUP))) do_write(e, c);
    return;
  }
  if (c->state == CS_LINGER || (c->state == CS_IDLE && (events & (EPOLLIN | HANGUP)))) read_loop(e, c, events);
}

static void expire(engine *e, int64_t now) {
  conn *c;
  while ((c = e->lists[L_CONNECT].head) != NULL && c->deadline <= now) fail(e, c, CODE_CONNECT_TIMEOUT, PH_CONNECT);
  while ((c = e->lists[L_TLS].head) != NULL && c->deadline <= now) fail(e, c, CODE_TLS_TIMEOUT, PH_TLS);
  while ((c = e->lists[L_REQUEST].head) != NULL && c->deadline <= now) fail(e, c, CODE_REQUEST_TIMEOUT, PH_RESPONSE);
  while ((c = e->lists[L_LINGER].head) != NULL && c->deadline <= now) conn_release(e, c);
}

/* The loop's next deadline (CLOCK_MONOTONIC ns), or -1 when nothing is timed. */
static int64_t next_deadline(engine *e) {
  int64_t best = e->connected_deadline != 0 ? e->connected_deadline : -1;
  for (int i = 0; i < L_TIMED; i++) {
    conn *c = e->lists[i].head;
    if (c != NULL && (best < 0 || c->deadline < best)) best = c->deadline;
  }
  if (e->sched_head < e->sched_len && (best < 0 || e->sched[e->sched_head].due < best)) best = e->sched[e->sched_head].due;
  return best;
}

/*
 * epoll_wait until `deadline` (-1: none). epoll_wait's timeout is in milliseconds (rounded up here,
 * so up to 1 ms late); epoll_pwait2 (Linux 5.11) takes a timespec, so a scheduled start wakes the
 * thread on time, give or take the timer slack (set to 1 us for scheduled load).
 */
static int wait_events(engine *e, struct epoll_event *evs, int64_t deadline, int64_t now) {
  if (deadline < 0) return epoll_wait(e->epfd, evs, MAX_EVENTS, -1);
  int64_t d = deadline > now ? deadline - now : 0;
#ifdef SYS_epoll_pwait2
  if (!e->no_pwait2 && d > 0) {
    struct timespec ts = {.tv_sec = d / 1000000000LL, .tv_nsec = d % 1000000000LL};
    int n = (int)syscall(SYS_epoll_pwait2, e->epfd, evs, MAX_EVENTS, &ts, NULL, 0);
    if (n >= 0 || errno != ENOSYS) return n;
    e->no_pwait2 = 1;
  }
#endif
  int64_t ms = (d + 999999) / 1000000;
  return epoll_wait(e->epfd, evs, MAX_EVENTS, ms > 60000 ? 60000 : (int)ms);
}

/* Reports an exchange that never started (no socket): ABORTED, or NOT_STARTED when cancelled. */
static void settle_unstarted(engine *e, uint32_t slot, int code) {
  conn tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.slot = slot;
  tmp.local_index = -1;
  tmp.t_start = now_ns();
  settle(e, &tmp, code, PH_CONNECT, 0, 0, DETAIL_NONE);
}

/* Adds a submission to the schedule, after every one due at or before it. */
static int sched_push(engine *e, sub s) {
  if (e->sched_len == e->sched_cap) {
    if (e->sched_head > 0) {
      memmove(e->sched, e->sched + e->sched_head, (e->sched_len - e->sched_head) * sizeof(sub));
      e->sched_len -= e->sched_head;
      e->sched_head = 0;
    } else {
      size_t cap = e->sched_cap * 2;
      sub *q = realloc(e->sched, cap * sizeof *q);
      if (q == NULL) return -1;
      e->sched = q;
      e->sched_cap = cap;
    }
  }
  /* Arrivals of one group come in due order: the common case appends. */
  size_t lo = e->sched_head, hi = e->sched_len;
  if (hi > lo && e->sched[hi - 1].due > s.due) {
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (e->sched[mid].due <= s.due) lo = mid + 1;
      else hi = mid;
    }
    memmove(e->sched + lo + 1, e->sched + lo, (e->sched_len - lo) * sizeof(sub));
  } else {
    lo = e->sched_len;
  }
  e->sched[lo] = s;
  e->sched_len++;
  return 0;
}

/*
 * Starts the scheduled exchanges due by `now`. Once cancelled (cancel < INT64_MAX), every one due
 * after `cancel` ends NOT_STARTED and the rest start (or end ABORTED when aborting): `now` and
 * `cancel` are read under one lock, and cancel() reads its time under that lock too, so nothing
 * due after the cancel's time ever starts.
 */
static void start_due(engine *e, int64_t now, int64_t cancel, int aborting) {
  while (e->sched_head < e->sched_len) {
    sub s = e->sched[e->sched_head];
    if (s.due > now && cancel == INT64_MAX) break;
    e->sched_head++;
    if (s.due > cancel) settle_unstarted(e, s.slot, CODE_NOT_STARTED);
    else if (aborting) settle_unstarted(e, s.slot, CODE_ABORTED);
    else if (e->pool_size > 0) wait_push(e, s.slot);
    else start(e, s.slot);
  }
  if (e->sched_head == e->sched_len) e->sched_head = e->sched_len = 0;
}

/*
 * Closes every connection; unsettled exchanges end with `code` (0: not reported at all). Kept-alive
 * connections close abortively (RST) under close: reset; at destroy (PREMATURE_CLOSED), idle HTTPS
 * ones otherwise close first as a plain close() does (tls_close_first), and are released at the FIN.
 */
static void close_all(engine *e, int code) {
  struct linger l = {1, 0};
  int reset = e->pool_size > 0 && e->policy == POLICY_RESET;
  for (int i = 0; i < L_COUNT; i++) {
    conn *c;
    while ((c = e->lists[i].head) != NULL) {
      /* L_LINGER comes before L_IDLE: a connection moved there is not met again. */
      if (code == CODE_PREMATURE_CLOSED && !reset && c->state == CS_IDLE && c->ssl != NULL) {
        tls_close_first(e, c);
        linger_read(e, c);
        continue;
      }
      if (code && !c->settled) settle(e, c, code, c->phase, 0, 0, DETAIL_NONE);
      if (reset && c->fd >= 0) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      conn_release(e, c);
    }
  }
}

/*
 * For scheduled load: the thread's wake-ups are the start times. The default 50 us timer slack
 * would delay each by up to that much; and on a busy CPU, EEVDF (Linux 6.12+) lets a waking thread
 * preempt the running one sooner when it asks for a short slice (sched_attr.sched_runtime, 0.1 ms
 * here: the thread's bursts are shorter). Neither needs a privilege; older kernels ignore the slice.
 */
static void short_slice(void) {
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
  struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } a;
  memset(&a, 0, sizeof a);
  if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0 || a.policy != SCHED_OTHER) return;
  a.size = sizeof a;
  a.flags = 0;
  a.runtime = 100000;
  if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) { /* not supported here: the default slice */ }
#endif
}

static void *engine_main(void *arg) {
  engine *e = arg;
  struct epoll_event evs[MAX_EVENTS];
  /*
   * SCHED_BATCH (no privilege needed): a woken engine thread does not preempt the task running on
   * that CPU (often the target, or the JS thread submitting), so wake-ups stop ping-ponging on a
   * busy machine and each epoll_wait returns more events. Timings still read the clock per event.
   * Its wake-ups come ~1 ms later, though, so scheduled (open-model) load runs without it.
   */
  struct sched_param sp = {.sched_priority = 0};
  if (e->sched_batch) pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
  else short_slice();
  for (;;) {
    pthread_mutex_lock(&e->mu);
    sub *subs = e->subq;
    size_t nsub = e->subq_len, subs_cap = e->subq_cap;
    e->subq = e->starting;
    e->subq_cap = e->starting_cap;
    e->subq_len = 0;
    e->starting = subs;
    e->starting_cap = subs_cap;
    int abort_all = e->cmd_abort, destroy_all = e->cmd_destroy, stop = e->cmd_stop;
    e->cmd_abort = e->cmd_destroy = 0;
    int64_t cancel = e->cancel_ns, now = now_ns();
    pthread_mutex_unlock(&e->mu);
    if (stop) break;
    if (abort_all) {
      close_all(e, CODE_ABORTED);
      settle_waiting(e, CODE_ABORTED);
    }
    for (size_t i = 0; i < nsub; i++) {
      if (sched_push(e, subs[i]) < 0) settle_unstarted(e, subs[i].slot, CODE_ABORTED);
    }
    start_due(e, now, cancel, abort_all);
    if (destroy_all) {
      close_all(e, CODE_PREMATURE_CLOSED);
      settle_waiting(e, CODE_PREMATURE_CLOSED);
    }
    if (e->pool_size > 0) pump(e);
    publish(e, now_ns());

    int64_t deadline = next_deadline(e);
    pthread_mutex_lock(&e->mu);
    now = now_ns();
    if (e->subq_len > 0 || e->cmd_abort || e->cmd_destroy || e->cmd_stop) deadline = now;
    else e->sleeping = 1;
    pthread_mutex_unlock(&e->mu);
    int n = wait_events(e, evs, deadline, now);
    atomic_fetch_add_explicit(&e->n_iterations, 1, memory_order_relaxed);
    pthread_mutex_lock(&e->mu);
    e->sleeping = 0;
    cancel = e->cancel_ns;
    now = now_ns();
    pthread_mutex_unlock(&e->mu);
    /* Before the events: a start that is due does not wait behind other connections' work. */
    start_due(e, now, cancel, 0);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (c == NULL) {
        uint64_t v;
        if (read(e->evfd, &v, sizeof v) < 0) { /* EAGAIN: already drained */ }
        pthread_mutex_lock(&e->mu);
        e->wake_pending = 0;
        pthread_mutex_unlock(&e->mu);
        continue;
      }
      on_event(e, c, evs[i].events);
    }
    now = now_ns();
    expire(e, now);
    if (e->pool_size > 0) pump(e);
    publish(e, now);
  }
  close_all(e, 0);
  return NULL;
}

/* ---- engine lifetime (JS thread) ---- */

static void engine_unref(engine *e) {
  if (--e->refs > 0) return;
  close(e->epfd);
  close(e->evfd);
  pthread_mutex_destroy(&e->mu);
  for (block *b = e->blocks, *next; b != NULL; b = next) {
    next = b->next;
    for (int i = 0; i < CONN_BLOCK; i++) framer_free(&b->conns[i].fr);
    free(b);
  }
  free(e->subq);
  free(e->starting);
  free(e->waitq);
  free(e->sched);
  free(e->outq);
  free(e->orphans);
  free(e->batch);
  free(e->locals);
  free(e->local_ok);
  free(e->request);
  free(e->rbuf);
  tls_ctx_free(e->tls);
  free(e);
}

static void wake(engine *e) {
  uint64_t one = 1;
  atomic_fetch_add_explicit(&e->n_wake_engine, 1, memory_order_relaxed);
  if (write(e->evfd, &one, sizeof one) < 0) { /* the counter is non-zero already */ }
}

static void stop_thread(engine *e) {
  if (!e->thread_started) return;
  pthread_mutex_lock(&e->mu);
  e->cmd_stop = 1;
  wake(e);
  pthread_mutex_unlock(&e->mu);
  pthread_join(e->thread, NULL);
  e->thread_started = 0;
}

static void cleanup_hook(void *arg) {
  engine *e = arg;
  /* The environment is going away: stop the thread; Node finalizes the threadsafe function itself. */
  if (e->shut) return;
  e->shut = 1;
  stop_thread(e);
}

static void shutdown_engine(napi_env env, engine *e) {
  if (e->shut) return;
  e->shut = 1;
  stop_thread(e);
  napi_remove_env_cleanup_hook(env, cleanup_hook, e);
  if (e->sub_ref) napi_delete_reference(env, e->sub_ref);
  if (e->due_ref) napi_delete_reference(env, e->due_ref);
  if (e->out_ref) napi_delete_reference(env, e->out_ref);
  e->sub_ref = e->due_ref = e->out_ref = NULL;
  /* take() returns 0 from now on: the records buffer may be collected. */
  e->js_out = NULL;
  e->js_sub = NULL;
  e->js_due = NULL;
  napi_release_threadsafe_function(e->tsfn, napi_tsfn_release);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  engine *e = data;
  shutdown_engine(env, e);
  engine_unref(e);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) { engine_unref((engine *)data); }

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  if (env == NULL || js_cb == NULL) return;
  napi_value undefined;
  if (napi_get_undefined(env, &undefined) != napi_ok) return;
  napi_call_function(env, undefined, js_cb, 0, NULL, NULL);
}

/* ---- N-API helpers ---- */

#define CHECK(call)                                  \
  do {                                               \
    if ((call) != napi_ok) return throw_last(env);   \
  } while (0)

static napi_value throw_last(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, "ERR_CONNENGINE", info && info->error_message ? info->error_message : "connengine: N-API call failed");
  }
  return NULL;
}

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  return napi_get_named_property(env, obj, name, out) == napi_ok;
}

static int prop_double(napi_env env, napi_value obj, const char *name, double *out) {
  napi_value v;
  napi_valuetype t;
  return get_prop(env, obj, name, &v) && napi_typeof(env, v, &t) == napi_ok && t == napi_number &&
         napi_get_value_double(env, v, out) == napi_ok;
}

static int prop_string(napi_env env, napi_value v, char *buf, size_t n) {
  size_t len;
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_string && napi_get_value_string_latin1(env, v, buf, n, &len) == napi_ok && len < n - 1;
}

/*
 * Property `name` as a new UTF-8 string (free() it): 1, or 0 when it is null or undefined (*out NULL),
 * or -1 when it is something else (or out of memory).
 */
static int prop_text(napi_env env, napi_value obj, const char *name, char **out) {
  napi_value v;
  napi_valuetype t;
  size_t len;
  *out = NULL;
  if (!get_prop(env, obj, name, &v) || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;
  if (t != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
  *out = malloc(len + 1);
  if (*out == NULL || napi_get_value_string_utf8(env, v, *out, len + 1, &len) != napi_ok) {
    free(*out);
    *out = NULL;
    return -1;
  }
  return 1;
}

static int prop_bool(napi_env env, napi_value obj, const char *name, bool *out) {
  napi_value v;
  napi_valuetype t;
  return get_prop(env, obj, name, &v) && napi_typeof(env, v, &t) == napi_ok && t == napi_boolean && napi_get_value_bool(env, v, out) == napi_ok;
}

/*
 * The TLS context for create()'s `tls` object ({servername, insecure, ca, cert, key,
 * sessionResumption, alpn, handshakeTimeoutMs}); NULL with an exception thrown.
 */
static tls_ctx *create_tls(napi_env env, napi_value o, const char *host, int64_t *handshake_timeout_ns) {
  char *servername = NULL, *ca = NULL, *cert = NULL, *key = NULL, err[256] = "";
  bool insecure = false, resumption = true;
  double timeout;
  napi_value alpn_v;
  bool is_array = false;
  uint32_t n_alpn = 0;
  unsigned char alpn[256];
  size_t alpn_len = 0;
  tls_ctx *t = NULL;
  if (!tls_available()) {
    snprintf(err, sizeof err, "connengine: TLS is unavailable here: %s", tls_unavailable_reason());
    napi_throw_error(env, "ERR_CONNENGINE_NO_TLS", err);
    return NULL;
  }
  if (prop_text(env, o, "servername", &servername) < 0 || prop_text(env, o, "ca", &ca) < 0 || prop_text(env, o, "cert", &cert) < 0 ||
      prop_text(env, o, "key", &key) < 0 || !prop_bool(env, o, "insecure", &insecure) || !prop_bool(env, o, "sessionResumption", &resumption) ||
      !prop_double(env, o, "handshakeTimeoutMs", &timeout) || !(timeout >= 0) || !get_prop(env, o, "alpn", &alpn_v) ||
      napi_is_array(env, alpn_v, &is_array) != napi_ok || !is_array || napi_get_array_length(env, alpn_v, &n_alpn) != napi_ok) {
    type_error(env, "connengine: tls must be {servername, insecure, ca, cert, key, sessionResumption, alpn, handshakeTimeoutMs}");
    goto done;
  }
  for (uint32_t i = 0; i < n_alpn; i++) {
    napi_value item;
    char name[256];
    size_t len = 0;
    napi_valuetype it;
    if (napi_get_element(env, alpn_v, i, &item) != napi_ok || napi_typeof(env, item, &it) != napi_ok || it != napi_string ||
        napi_get_value_string_latin1(env, item, name, sizeof name, &len) != napi_ok || len == 0 || len > 255 || alpn_len + 1 + len > sizeof alpn) {
      type_error(env, "connengine: tls.alpn must be protocol names of 1 to 255 bytes");
      goto done;
    }
    alpn[alpn_len++] = (unsigned char)len;
    memcpy(alpn + alpn_len, name, len);
    alpn_len += len;
  }
  tls_options opts = {
      .servername = servername, .target_ip = host, .insecure = insecure, .ca = ca, .cert = cert, .key = key,
      .resumption = resumption, .alpn = alpn, .alpn_len = alpn_len,
  };
  t = tls_ctx_new(&opts, err, sizeof err);
  if (t == NULL) {
    char msg[300];
    snprintf(msg, sizeof msg, "connengine: %s", err);
    napi_throw_error(env, "ERR_CONNENGINE_TLS", msg);
    goto done;
  }
  *handshake_timeout_ns = (int64_t)(timeout * 1e6);
done:
  free(servername);
  free(ca);
  free(cert);
  free(key);
  return t;
}

static int parse_addr(int family, const char *text, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) return 0;
    *len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) return 0;
    *len = sizeof *a;
  }
  return 1;
}

/*
 * Handles are externals tagged with napi_type_tag_object: a value that is not one of this addon's
 * handles of the right kind (a plain object, another addon's external, a framer passed as an
 * engine) is a TypeError, never a pointer cast. Each tag is used by this file only.
 */
static const napi_type_tag ENGINE_TAG = {0x706f727473746f72ULL, 0x636f6e6e656e6701ULL};
static const napi_type_tag FRAMER_TAG = {0x706f727473746f72ULL, 0x636f6e6e66726d02ULL};

/* The pointer of `v` when it is an external tagged `tag`, else NULL. */
static void *unwrap_tagged(napi_env env, napi_value v, const napi_type_tag *tag) {
  void *data = NULL;
  napi_valuetype t;
  bool ok = false;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_check_object_type_tag(env, v, tag, &ok) != napi_ok || !ok) return NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

/* A tagged external for `data`; on failure frees nothing (the caller does) and returns non-zero. */
static int new_tagged(napi_env env, void *data, napi_finalize fin, const napi_type_tag *tag, napi_value *out) {
  if (napi_create_external(env, data, fin, NULL, out) != napi_ok) return -1;
  if (napi_type_tag_object(env, *out, tag) != napi_ok) return -2; /* the finalizer owns `data` now */
  return 0;
}

/*
 * create({ family, host, port, localAddresses, close, connectTimeoutMs, requestTimeoutMs, request,
 *          reader, isHead, expectBytes, originNs, onReady, batch?, poolSize? (> 0: keep-alive),
 *          bindNoPort? (default true: IP_BIND_ADDRESS_NO_PORT with localAddresses) })
 *   -> [handle, submissions: ArrayBuffer (Int32 slot ids), records: ArrayBuffer,
 *       not-before times: ArrayBuffer (Float64 performance.now() ms, one per submission; 0: at once),
 *       bindNoPort: boolean (the option is set before every bind(); false without localAddresses,
 *       when not asked for, or when this kernel refuses it)]
 */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value o;
  CHECK(napi_get_cb_info(env, info, &argc, &o, NULL, NULL));
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, o, &t) != napi_ok || t != napi_object) return type_error(env, "connengine: options must be an object");

  double family, port, policy, cto, rto, reader, expect;
  if (!prop_double(env, o, "family", &family) || !prop_double(env, o, "port", &port) || !prop_double(env, o, "close", &policy) ||
      !prop_double(env, o, "connectTimeoutMs", &cto) || !prop_double(env, o, "requestTimeoutMs", &rto) ||
      !prop_double(env, o, "reader", &reader) || !prop_double(env, o, "expectBytes", &expect)) {
    return type_error(env, "connengine: family, port, close, connectTimeoutMs, requestTimeoutMs, reader and expectBytes must be numbers");
  }
  napi_value host_v, locals_v, request_v, head_v, origin_v, cb_v;
  char host[64];
  if (!get_prop(env, o, "host", &host_v) || !prop_string(env, host_v, host, sizeof host)) return type_error(env, "connengine: host must be an IP address");

  engine *e = calloc(1, sizeof *e);
  if (e == NULL) {
    napi_throw_error(env, "ENOMEM", "connengine: out of memory");
    return NULL;
  }
  e->refs = 1; /* the handle; the threadsafe function takes the second reference */
  e->epfd = e->evfd = -1;
  e->family = family == 6 ? 6 : 4;
  e->policy = (int)policy;
  e->connect_timeout_ns = (int64_t)(cto * 1e6);
  e->request_timeout_ns = (int64_t)(rto * 1e6);
  e->reader_kind = reader == 1 ? FR_HTTP : FR_BYTES;
  e->expect = expect > 0 ? (uint64_t)expect : 0;
  pthread_mutex_init(&e->mu, NULL);
  atomic_init(&e->open_count, 0);

#define FAIL(msg)                            \
  do {                                       \
    engine_unref(e);                         \
    return type_error(env, "connengine: " msg); \
  } while (0)

  if (!parse_addr(e->family, host, (int)port, &e->target, &e->target_len)) FAIL("host is not an IP address of the given family");

  bool is_array = false;
  uint32_t n_locals = 0;
  if (!get_prop(env, o, "localAddresses", &locals_v) || napi_is_array(env, locals_v, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, locals_v, &n_locals) != napi_ok) {
    FAIL("localAddresses must be an array");
  }
  if (n_locals > 0) {
    e->locals = calloc(n_locals, sizeof *e->locals);
    e->local_ok = calloc(n_locals, 1);
    if (e->locals == NULL || e->local_ok == NULL) FAIL("out of memory");
    for (uint32_t i = 0; i < n_locals; i++) {
      napi_value item;
      char text[64];
      socklen_t len;
      if (napi_get_element(env, locals_v, i, &item) != napi_ok || !prop_string(env, item, text, sizeof text)) FAIL("localAddresses must be strings");
      /* A local address of the other family fails each bind with EINVAL, as in Node. */
      e->local_ok[i] = (uint8_t)parse_addr(e->family, text, 0, &e->locals[i], &len);
    }
    e->n_locals = (int)n_locals;
  }

  bool is_buffer = false;
  void *req_data;
  size_t req_len;
  if (!get_prop(env, o, "request", &request_v) || napi_is_buffer(env, request_v, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, request_v, &req_data, &req_len) != napi_ok || req_len > UINT32_MAX) {
    FAIL("request must be a Buffer");
  }
  e->request = malloc(req_len ? req_len : 1);
  if (e->request == NULL) FAIL("out of memory");
  memcpy(e->request, req_data, req_len);
  e->request_len = (uint32_t)req_len;

  bool is_head = false;
  if (get_prop(env, o, "isHead", &head_v)) napi_get_value_bool(env, head_v, &is_head);
  e->is_head = is_head;
  bool batch = true;
  napi_value batch_v;
  napi_valuetype batch_t;
  if (get_prop(env, o, "batch", &batch_v) && napi_typeof(env, batch_v, &batch_t) == napi_ok && batch_t == napi_boolean) napi_get_value_bool(env, batch_v, &batch);
  e->sched_batch = batch;
  double pool = 0;
  napi_value pool_v;
  napi_valuetype pool_t;
  if (get_prop(env, o, "poolSize", &pool_v) && napi_typeof(env, pool_v, &pool_t) == napi_ok && pool_t != napi_undefined) {
    if (!prop_double(env, o, "poolSize", &pool) || !(pool >= 0 && pool <= 1e6)) FAIL("poolSize must be a number from 0 to 1e6");
  }
  e->pool_size = (uint32_t)pool;

  bool no_port = true;
  napi_value no_port_v;
  napi_valuetype no_port_t;
  if (get_prop(env, o, "bindNoPort", &no_port_v) && napi_typeof(env, no_port_v, &no_port_t) == napi_ok && no_port_t != napi_undefined) {
    if (no_port_t != napi_boolean || napi_get_value_bool(env, no_port_v, &no_port) != napi_ok) FAIL("bindNoPort must be a boolean");
  }
  if (no_port && e->n_locals > 0) {
    /* Probe once: a kernel before 4.2 refuses the option (ENOPROTOOPT), and bind() then picks the port. */
    int probe = socket(e->family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
      int err = errno;
      char name[PS_ERRNO_NAME_BYTES];
      engine_unref(e);
      napi_throw_error(env, ps_errno_name(err, name, sizeof name), "connengine: cannot create a socket to probe IP_BIND_ADDRESS_NO_PORT");
      return NULL;
    }
    int one = 1;
    e->bind_no_port = setsockopt(probe, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) == 0;
    close(probe);
  }

  bool lossless;
  if (!get_prop(env, o, "originNs", &origin_v) || napi_get_value_bigint_int64(env, origin_v, &e->origin_ns, &lossless) != napi_ok) FAIL("originNs must be a bigint");
  if (!get_prop(env, o, "onReady", &cb_v) || napi_typeof(env, cb_v, &t) != napi_ok || t != napi_function) FAIL("onReady must be a function");

  napi_value tls_v;
  if (get_prop(env, o, "tls", &tls_v) && napi_typeof(env, tls_v, &t) == napi_ok && t != napi_undefined && t != napi_null) {
    if (t != napi_object) FAIL("tls must be an object or null");
    e->tls = create_tls(env, tls_v, host, &e->handshake_timeout_ns);
    if (e->tls == NULL) {
      engine_unref(e);
      return NULL;
    }
  }

  e->rbuf = malloc(READ_BYTES);
  e->subq_cap = e->starting_cap = SUB_CAP;
  e->subq = malloc(SUB_CAP * sizeof(sub));
  e->starting = malloc(SUB_CAP * sizeof(sub));
  e->sched_cap = SUB_CAP;
  e->sched = malloc(SUB_CAP * sizeof(sub));
  e->cancel_ns = INT64_MAX;
  if (e->rbuf == NULL || e->subq == NULL || e->starting == NULL || e->sched == NULL) FAIL("out of memory");
  for (int i = 0; i < L_COUNT; i++) e->lists[i].head = e->lists[i].tail = NULL;

  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  e->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (e->epfd < 0 || e->evfd < 0) {
    int err = errno;
    char name[PS_ERRNO_NAME_BYTES];
    engine_unref(e);
    napi_throw_error(env, ps_errno_name(err, name, sizeof name), "connengine: cannot create epoll or eventfd");
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev);

  napi_value sub_ab, due_ab, out_ab, handle, name, result;
  void *sub_data, *due_data, *out_data;
  if (napi_create_arraybuffer(env, SUB_CAP * sizeof(int32_t), &sub_data, &sub_ab) != napi_ok ||
      napi_create_arraybuffer(env, SUB_CAP * sizeof(double), &due_data, &due_ab) != napi_ok ||
      napi_create_arraybuffer(env, OUT_CAP * REC_BYTES, &out_data, &out_ab) != napi_ok ||
      napi_create_reference(env, sub_ab, 1, &e->sub_ref) != napi_ok || napi_create_reference(env, due_ab, 1, &e->due_ref) != napi_ok ||
      napi_create_reference(env, out_ab, 1, &e->out_ref) != napi_ok) {
    if (e->sub_ref) napi_delete_reference(env, e->sub_ref);
    if (e->due_ref) napi_delete_reference(env, e->due_ref);
    if (e->out_ref) napi_delete_reference(env, e->out_ref);
    engine_unref(e);
    return throw_last(env);
  }
  e->js_sub = sub_data;
  e->js_due = due_data;
  e->js_out = out_data;
  e->env = env;

  if (napi_create_string_utf8(env, "portstorm.connengine", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, cb_v, NULL, name, 0, 1, e, tsfn_finalize, e, call_js, &e->tsfn) != napi_ok) {
    if (e->sub_ref) napi_delete_reference(env, e->sub_ref);
    if (e->due_ref) napi_delete_reference(env, e->due_ref);
    if (e->out_ref) napi_delete_reference(env, e->out_ref);
    engine_unref(e);
    return throw_last(env);
  }
  e->refs = 2;
  /* Idle engines do not keep the event loop alive; submit() refs it while exchanges are out. */
  napi_unref_threadsafe_function(env, e->tsfn);
  napi_add_env_cleanup_hook(env, cleanup_hook, e);

  int tagged = new_tagged(env, e, handle_finalize, &ENGINE_TAG, &handle);
  if (tagged == -1) {
    shutdown_engine(env, e);
    engine_unref(e);
    return throw_last(env);
  }
  if (tagged != 0) {
    shutdown_engine(env, e); /* the untagged handle's finalizer drops the last reference */
    return throw_last(env);
  }
  int err = pthread_create(&e->thread, NULL, engine_main, e);
  if (err != 0) {
    char name[PS_ERRNO_NAME_BYTES];
    napi_throw_error(env, ps_errno_name(err, name, sizeof name), "connengine: cannot start the engine thread");
    return NULL; /* the handle's finalizer releases everything */
  }
  e->thread_started = 1;
  /* Shown by top -H and /proc/<pid>/task/<tid>/comm. */
  pthread_setname_np(e->thread, "connengine");

  napi_value no_port_result;
  CHECK(napi_get_boolean(env, e->bind_no_port != 0, &no_port_result));
  CHECK(napi_create_array_with_length(env, 5, &result));
  CHECK(napi_set_element(env, result, 0, handle));
  CHECK(napi_set_element(env, result, 1, sub_ab));
  CHECK(napi_set_element(env, result, 2, out_ab));
  CHECK(napi_set_element(env, result, 3, due_ab));
  CHECK(napi_set_element(env, result, 4, no_port_result));
  return result;
#undef FAIL
}

/*
 * The engine of argv[0] (`want` arguments read), or NULL with a TypeError thrown naming `fn`: when
 * argv[0] is not an engine handle, or (unless `stale_ok`) the engine was stopped. After stop() only
 * submit() (-> false) and stop() (nothing to do) take the handle.
 */
static engine *arg_engine(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn, int stale_ok) {
  char msg[128];
  size_t argc = want;
  for (size_t i = 0; i < want; i++) argv[i] = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_last(env);
    return NULL;
  }
  engine *e = argc >= 1 ? unwrap_tagged(env, argv[0], &ENGINE_TAG) : NULL;
  if (e == NULL) {
    snprintf(msg, sizeof msg, "connengine: %s: the first argument is not an engine handle", fn);
    type_error(env, msg);
    return NULL;
  }
  if (e->shut && !stale_ok) {
    snprintf(msg, sizeof msg, "connengine: %s: the engine handle is stale (the engine was stopped)", fn);
    type_error(env, msg);
    return NULL;
  }
  if (argc < want) {
    snprintf(msg, sizeof msg, "connengine: %s: expected %zu arguments", fn, want);
    type_error(env, msg);
    return NULL;
  }
  return e;
}

/*
 * submit(handle, n): starts the n exchanges whose slot ids are in the submissions buffer, each not
 * before its time in the not-before buffer. -> false when stopped.
 */
static napi_value submit(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  engine *e = arg_engine(env, info, 2, argv, "submit(handle, n)", 1);
  if (e == NULL) return NULL;
  uint32_t n;
  if (napi_get_value_uint32(env, argv[1], &n) != napi_ok || n > SUB_CAP) return type_error(env, "connengine: submit(handle, n)");
  if (e->shut) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  if (n > 0) {
    pthread_mutex_lock(&e->mu);
    /* Room for each exchange's outcome even when its record cannot be allocated (see orphan). */
    if (faulty(e, FAULT_SUBMIT) || e->unsettled + n > e->orphans_cap) {
      size_t cap = e->orphans_cap ? e->orphans_cap * 2 : 1024;
      while (cap < e->unsettled + n) cap *= 2;
      orphan *q = faulty(e, FAULT_SUBMIT) ? NULL : realloc(e->orphans, cap * sizeof *q);
      if (q == NULL) {
        pthread_mutex_unlock(&e->mu);
        napi_throw_error(env, "ENOMEM", "connengine: out of memory");
        return NULL;
      }
      e->orphans = q;
      e->orphans_cap = cap;
    }
    if (e->subq_len + n > e->subq_cap) {
      size_t cap = e->subq_cap * 2;
      while (cap < e->subq_len + n) cap *= 2;
      sub *q = realloc(e->subq, cap * sizeof *q);
      if (q == NULL) {
        pthread_mutex_unlock(&e->mu);
        napi_throw_error(env, "ENOMEM", "connengine: out of memory");
        return NULL;
      }
      e->subq = q;
      e->subq_cap = cap;
    }
    for (uint32_t i = 0; i < n; i++) {
      double ms = e->js_due[i];
      int64_t due = 0;
      if (ms > 0) {
        /* Rounded up: startedAt, converted back to ms, is never before the time JS asked for. */
        double ns = ms * 1e6;
        due = (int64_t)ns;
        if ((double)due < ns) due++;
        due += e->origin_ns;
      }
      e->subq[e->subq_len + i] = (sub){.due = due, .slot = (uint32_t)e->js_sub[i]};
    }
    e->subq_len += n;
    e->unsettled += n;
    if (e->sleeping && !e->wake_pending) {
      e->wake_pending = 1;
      wake(e);
    }
    pthread_mutex_unlock(&e->mu);
    if (e->outstanding == 0 && !e->refed) {
      napi_ref_threadsafe_function(env, e->tsfn);
      e->refed = 1;
    }
    e->outstanding += n;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

/* take(handle): copies up to OUT_CAP records into the records buffer; returns how many. */
static napi_value take(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  engine *e = arg_engine(env, info, 1, argv, "take(handle)", 0);
  if (e == NULL) return NULL;
  size_t n = 0;
  if (e->js_out != NULL) {
    uint32_t done = 0;
    pthread_mutex_lock(&e->mu);
    n = e->outq_len < OUT_CAP ? e->outq_len : OUT_CAP;
    if (n > 0) memcpy(e->js_out, e->outq, n * sizeof(rec)); /* outq may be NULL (never grown) */
    if (n < e->outq_len) memmove(e->outq, e->outq + n, (e->outq_len - n) * sizeof(rec));
    e->outq_len -= n;
    for (size_t i = 0; i < n; i++) done += e->js_out[i].type == REC_DONE;
    /* Then the outcomes whose records could not be allocated: ENOMEM unless they need no record. */
    if (n < OUT_CAP && e->orphans_len > 0) {
      size_t k = e->orphans_len < OUT_CAP - n ? e->orphans_len : OUT_CAP - n;
      double at = perf_ms(e, now_ns());
      for (size_t i = 0; i < k; i++) {
        const orphan *o = &e->orphans[i];
        rec *r = &e->js_out[n + i];
        memset(r, 0, sizeof *r);
        r->type = REC_DONE;
        r->slot = (int32_t)o->slot;
        r->started_at = r->ended_at = at;
        r->connect_ms = r->first_byte_at = -1;
        r->local_port = -1;
        r->local_index = -1;
        r->phase = o->phase;
        switch (o->code) {
          case CODE_ERRNO:
            r->code = CODE_ERRNO;
            r->err = o->err;
            r->syscall = o->syscall;
            break;
          case CODE_CONNECT_TIMEOUT: case CODE_REQUEST_TIMEOUT: case CODE_PREMATURE_END:
          case CODE_PREMATURE_CLOSED: case CODE_ABORTED: case CODE_NOT_STARTED:
          case CODE_TLS_DISCONNECT: case CODE_TLS_TIMEOUT:
            r->code = o->code;
            break;
          case CODE_TLS_VERIFY: case CODE_TLS_ERROR:
            r->code = o->code;
            r->err = o->err;
            r->detail = -1; /* the message was in the lost record */
            break;
          default: /* a response whose record (timings, status) was lost */
            r->code = CODE_ERRNO;
            r->err = ENOMEM;
            r->syscall = o->phase == PH_CONNECT ? SYS_CONNECT : o->phase == PH_SEND || o->phase == PH_TLS ? SYS_WRITE : SYS_READ;
            break;
        }
      }
      if (k < e->orphans_len) memmove(e->orphans, e->orphans + k, (e->orphans_len - k) * sizeof(orphan));
      e->orphans_len -= k;
      n += k;
      done += (uint32_t)k;
    }
    e->unsettled -= done < e->unsettled ? done : e->unsettled;
    if (e->outq_len == 0 && e->orphans_len == 0) e->notified = 0;
    pthread_mutex_unlock(&e->mu);
    e->outstanding -= done < e->outstanding ? done : e->outstanding;
    if (e->outstanding == 0 && e->refed && !e->shut) {
      napi_unref_threadsafe_function(env, e->tsfn);
      e->refed = 0;
    }
  }
  CHECK(napi_create_uint32(env, (uint32_t)n, &result));
  return result;
}

/* open(handle): connections the engine holds open (including close: server's wait for the FIN). */
static napi_value open_count(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  engine *e = arg_engine(env, info, 1, argv, "open(handle)", 0);
  if (e == NULL) return NULL;
  CHECK(napi_create_uint32(env, e->shut ? 0 : (uint32_t)atomic_load(&e->open_count), &result));
  return result;
}

static napi_value command(napi_env env, napi_callback_info info, int which) {
  napi_value argv[1];
  engine *e = arg_engine(env, info, 1, argv, which == 0 ? "abort(handle)" : which == 1 ? "destroy(handle)" : "cancel(handle)", 0);
  if (e == NULL) return NULL;
  if (!e->shut) {
    pthread_mutex_lock(&e->mu);
    /* Read under the lock: see start_due(). */
    if (which != 1 && e->cancel_ns == INT64_MAX) e->cancel_ns = now_ns();
    if (which == 0) e->cmd_abort = 1;
    else if (which == 1) e->cmd_destroy = 1;
    if (!e->wake_pending) {
      e->wake_pending = 1;
      wake(e);
    }
    pthread_mutex_unlock(&e->mu);
  }
  return NULL;
}

/*
 * abort(handle): closes every connection; unsettled exchanges end ABORTED, and scheduled ones not
 * due yet NOT_STARTED (as cancel()).
 */
static napi_value abort_all(napi_env env, napi_callback_info info) { return command(env, info, 0); }

/*
 * cancel(handle): scheduled exchanges due after now (this call's clock reading) never start: they
 * end NOT_STARTED, as do any submitted later with a time after it. Those due by now still start.
 */
static napi_value cancel(napi_env env, napi_callback_info info) { return command(env, info, 2); }

/* destroy(handle): closes every connection; unsettled exchanges end PREMATURE_CLOSE (closed). */
static napi_value destroy_all(napi_env env, napi_callback_info info) { return command(env, info, 1); }

/* stop(handle): stops the engine thread (closing its sockets silently) and releases the callback. */
static napi_value stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  engine *e = arg_engine(env, info, 1, argv, "stop(handle)", 1);
  if (e == NULL) return NULL;
  shutdown_engine(env, e);
  return NULL;
}

/* stats(handle) -> [engine wake-ups, JS notifications, loop iterations, exchanges started] */
static napi_value stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, v;
  engine *e = arg_engine(env, info, 1, argv, "stats(handle)", 0);
  if (e == NULL) return NULL;
  unsigned long values[4] = {atomic_load(&e->n_wake_engine), atomic_load(&e->n_notify_js), atomic_load(&e->n_iterations), atomic_load(&e->n_started)};
  CHECK(napi_create_array_with_length(env, 4, &result));
  for (uint32_t i = 0; i < 4; i++) {
    CHECK(napi_create_double(env, (double)values[i], &v));
    CHECK(napi_set_element(env, result, i, v));
  }
  return result;
}

/*
 * fault(handle, mask): test hook; allocations on the engine thread fail on purpose while their bit
 * is set: 1 a record, 2 growing the queue to JS, 4 a block of connections; 8 makes submit() throw
 * ENOMEM as when it cannot reserve room; 16 fails each socket's IP_BIND_ADDRESS_NO_PORT with
 * ENOPROTOOPT. 0 clears.
 */
static napi_value fault(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  engine *e = arg_engine(env, info, 2, argv, "fault(handle, mask)", 0);
  if (e == NULL) return NULL;
  int32_t mask;
  if (napi_get_value_int32(env, argv[1], &mask) != napi_ok) return type_error(env, "connengine: fault(handle, mask)");
  atomic_store(&e->faults, mask);
  return NULL;
}

/* text(handle, i): message i of the engine's TLS context (records' detail), or null. */
static napi_value text(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  engine *e = arg_engine(env, info, 2, argv, "text(handle, i)", 0);
  if (e == NULL) return NULL;
  int32_t i;
  if (napi_get_value_int32(env, argv[1], &i) != napi_ok) return type_error(env, "connengine: text(handle, i)");
  const char *s = e->tls != NULL ? tls_text(e->tls, i) : NULL;
  if (s == NULL) CHECK(napi_get_null(env, &result));
  else CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &result));
  return result;
}

/* Throws unless TLS is available: OpenSSL is never called otherwise. */
static int need_tls(napi_env env, const char *fn) {
  if (tls_available()) return 1;
  char msg[256];
  snprintf(msg, sizeof msg, "connengine: %s: TLS is unavailable here: %s", fn, tls_unavailable_reason());
  napi_throw_error(env, "ERR_CONNENGINE_NO_TLS", msg);
  return 0;
}

/* tlsVerifyText(n): OpenSSL's text for verify result n (node:tls's err.message). */
static napi_value tls_verify_text_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v, result;
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, &v, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, v, &n) != napi_ok) return type_error(env, "connengine: tlsVerifyText(n)");
  if (!need_tls(env, "tlsVerifyText")) return NULL;
  const char *s = tls_verify_text(n);
  CHECK(napi_create_string_utf8(env, s != NULL ? s : "", NAPI_AUTO_LENGTH, &result));
  return result;
}

/* tlsErrorText(code) -> [reason, text]: an OpenSSL error's reason string and ERR_error_string_n's text. */
static napi_value tls_error_text_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v, result, item;
  uint32_t code;
  CHECK(napi_get_cb_info(env, info, &argc, &v, NULL, NULL));
  if (argc < 1 || napi_get_value_uint32(env, v, &code) != napi_ok) return type_error(env, "connengine: tlsErrorText(code)");
  if (!need_tls(env, "tlsErrorText")) return NULL;
  char reason[256], full[512];
  tls_error_text(code, reason, sizeof reason, full, sizeof full);
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &item));
  CHECK(napi_set_element(env, result, 0, item));
  CHECK(napi_create_string_utf8(env, full, NAPI_AUTO_LENGTH, &item));
  CHECK(napi_set_element(env, result, 1, item));
  return result;
}

/* errname(errno): the error's name (native/common/errno-name.h), as Node's err.code. */
static napi_value errname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v, result;
  int32_t err;
  CHECK(napi_get_cb_info(env, info, &argc, &v, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, v, &err) != napi_ok) return type_error(env, "connengine: errname(errno)");
  char name[PS_ERRNO_NAME_BYTES];
  CHECK(napi_create_string_utf8(env, ps_errno_name(err, name, sizeof name), NAPI_AUTO_LENGTH, &result));
  return result;
}

/* ---- the framing test hook ---- */

static void framer_finalize(napi_env env, void *data, void *hint) {
  framer_free(data);
  free(data);
}

/* framer(kind: 0 bytes | 1 http, arg: expectBytes | isHead) -> handle */
static napi_value new_framer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int32_t kind;
  double arg;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &kind) != napi_ok || napi_get_value_double(env, argv[1], &arg) != napi_ok) {
    return type_error(env, "connengine: framer(kind, arg)");
  }
  framer *f = calloc(1, sizeof *f);
  if (f == NULL) {
    napi_throw_error(env, "ENOMEM", "connengine: out of memory");
    return NULL;
  }
  framer_init(f, kind == 1 ? FR_HTTP : FR_BYTES, kind == 1 && arg != 0, kind == 1 ? 0 : (uint64_t)arg);
  int tagged = new_tagged(env, f, framer_finalize, &FRAMER_TAG, &result);
  if (tagged == -1) {
    free(f);
    return throw_last(env);
  }
  if (tagged != 0) return throw_last(env); /* the untagged external's finalizer frees f */
  return result;
}

/* Encodes a framer result: -1 cut short (end() only), 0 more, else 1 | failure << 1 | keepAlive << 3. */
static napi_value frame_result(napi_env env, framer *f, int r) {
  napi_value result;
  int32_t v = r == FR_CUT ? -1 : r == FR_MORE ? 0 : 1 | (f->failure << 1) | (f->keep_alive << 3);
  if (r < 0) {
    napi_throw_error(env, "ENOMEM", "connengine: out of memory");
    return NULL;
  }
  CHECK(napi_create_int32(env, v, &result));
  return result;
}

/* feed(framer, buffer) */
static napi_value framer_feed_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *f = NULL, *data = NULL;
  size_t len = 0;
  bool is_buffer = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || (f = unwrap_tagged(env, argv[0], &FRAMER_TAG)) == NULL || napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    return type_error(env, "connengine: feed(framer, buffer)");
  }
  return frame_result(env, f, framer_feed(f, data, len));
}

/* end(framer) */
static napi_value framer_end_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *f = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || (f = unwrap_tagged(env, argv[0], &FRAMER_TAG)) == NULL) return type_error(env, "connengine: end(framer)");
  return frame_result(env, f, framer_end(f));
}

static napi_value init(napi_env env, napi_value exports) {
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"create", create},   {"submit", submit},     {"take", take},   {"open", open_count},
      {"abort", abort_all}, {"cancel", cancel}, {"destroy", destroy_all}, {"stop", stop}, {"errname", errname}, {"stats", stats}, {"fault", fault},
      {"framer", new_framer}, {"feed", framer_feed_js}, {"end", framer_end_js}, {"text", text},
      {"tlsVerifyText", tls_verify_text_js}, {"tlsErrorText", tls_error_text_js},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok) return NULL;
  }
  napi_value v;
  if (napi_create_int32(env, ENGINE_VERSION, &v) != napi_ok || napi_set_named_property(env, exports, "version", v) != napi_ok) return NULL;
  if (napi_create_int32(env, REC_BYTES, &v) != napi_ok || napi_set_named_property(env, exports, "recordBytes", v) != napi_ok) return NULL;
  if (napi_create_int32(env, OUT_CAP, &v) != napi_ok || napi_set_named_property(env, exports, "recordCapacity", v) != napi_ok) return NULL;
  if (napi_create_int32(env, SUB_CAP, &v) != napi_ok || napi_set_named_property(env, exports, "submitCapacity", v) != napi_ok) return NULL;
  /* tls: {available, version (OpenSSL's, or null), reason (why unavailable, or null)} */
  napi_value tls, item;
  const char *version = tls_version(), *why = tls_unavailable_reason();
  if (napi_create_object(env, &tls) != napi_ok || napi_get_boolean(env, tls_available(), &item) != napi_ok ||
      napi_set_named_property(env, tls, "available", item) != napi_ok) return NULL;
  if ((version != NULL ? napi_create_string_utf8(env, version, NAPI_AUTO_LENGTH, &item) : napi_get_null(env, &item)) != napi_ok ||
      napi_set_named_property(env, tls, "version", item) != napi_ok) return NULL;
  if ((why != NULL ? napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &item) : napi_get_null(env, &item)) != napi_ok ||
      napi_set_named_property(env, tls, "reason", item) != napi_ok || napi_set_named_property(env, exports, "tls", tls) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
