/*
 * sockdiag: lists the TCP sockets of the current network namespace through NETLINK_SOCK_DIAG
 * (inet_diag, what `ss` uses). Plain C against node_api.h; Linux only.
 *
 *   dump(family: 4 | 6, statesMask?: number): Buffer
 *
 * returns packed 40-byte records, one per socket:
 *   [0] family (4 or 6)  [1] TCP state (1 ESTABLISHED .. 6 TIME_WAIT .. 10 LISTEN)
 *   [2..3] TIME_WAIT sockets: milliseconds until the TIME_WAIT timer fires (idiag_expires,
 *          big-endian, saturating at 65535; Linux holds TIME_WAIT 60 000 ms); other states 0
 *   [4..5] source port (big-endian)  [6..7] destination port (big-endian)
 *   [8..23] source address  [24..39] destination address (IPv4: first 4 bytes, rest 0)
 *
 * Errors are thrown as Error objects whose `code` is the errno name (EPERM, EPROTONOSUPPORT...), from
 * the table both addons share (native/common/errno-name.h: libuv's, as Node's err.code).
 *
 *   errname(errno: number): string   that table's name for an errno (the test of the shared table)
 *
 * Memory: a dump's own buffers (the receive buffer and the records, copied once into the returned
 * Buffer) are mmapped and unmapped directly, never malloc'd: glibc raises its mmap threshold to the
 * largest mmapped block freed, so multi-megabyte blocks freed through malloc would make later ones
 * come from the arena, whose freed pages stay resident. Nothing process-wide is changed.
 * The call is synchronous: it blocks the calling thread for the length of the dump (tens of ms at
 * tens of thousands of sockets).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <node_api.h>

#include "errno-name.h"

#define RECORD_BYTES 40
#define TCP_TIME_WAIT_STATE 6
#define RECV_BYTES (128 * 1024)
#define MAX_EINTR 1000
#define RECV_TIMEOUT_S 10

/* Throws `Error("sockdiag: <step>: <strerror> (<CODE>)")` with `.code = <CODE>` and `.errno`. */
static void throw_errno(napi_env env, const char *step, int e) {
  char msg[256], name_buf[PS_ERRNO_NAME_BYTES];
  const char *name = ps_errno_name(e, name_buf, sizeof name_buf);
  snprintf(msg, sizeof msg, "sockdiag: %s: %s (%s)", step, strerror(e), name);
  napi_value code, text, err, num;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &err) != napi_ok) {
    napi_throw_error(env, name, msg);
    return;
  }
  if (napi_create_int32(env, -e, &num) == napi_ok) napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
}

/* The records: an anonymous mapping grown with mremap (pages the kernel gives back on munmap). */
struct out {
  uint8_t *data; /* NULL until the first record */
  size_t len;
  size_t cap; /* bytes mapped */
};

static int out_reserve(struct out *o, size_t more) {
  if (o->len + more <= o->cap) return 0;
  size_t cap = o->cap ? o->cap : 64 * 1024;
  while (cap < o->len + more) cap *= 2;
  void *p = o->data == NULL ? mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                            : mremap(o->data, o->cap, cap, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return -1;
  o->data = p;
  o->cap = cap;
  return 0;
}

static void out_free(struct out *o) {
  if (o->data != NULL) munmap(o->data, o->cap);
  o->data = NULL;
  o->len = o->cap = 0;
}

/* One inet_diag_msg -> one record. */
static void put_record(uint8_t *r, const struct inet_diag_msg *m) {
  memset(r, 0, RECORD_BYTES);
  r[0] = m->idiag_family == AF_INET6 ? 6 : 4;
  r[1] = m->idiag_state;
  /* idiag_timer 3 is the TIME_WAIT timer; idiag_expires is in ms (jiffies_delta_to_msecs). */
  if (m->idiag_state == TCP_TIME_WAIT_STATE && m->idiag_timer == 3) {
    uint32_t ms = m->idiag_expires > 0xFFFF ? 0xFFFF : m->idiag_expires;
    r[2] = (uint8_t)(ms >> 8);
    r[3] = (uint8_t)(ms & 0xFF);
  }
  memcpy(r + 4, &m->id.idiag_sport, 2);
  memcpy(r + 6, &m->id.idiag_dport, 2);
  if (m->idiag_family == AF_INET6) {
    memcpy(r + 8, m->id.idiag_src, 16);
    memcpy(r + 24, m->id.idiag_dst, 16);
  } else {
    memcpy(r + 8, m->id.idiag_src, 4);
    memcpy(r + 24, m->id.idiag_dst, 4);
  }
}

/*
 * Runs the dump into `o`. Returns 0, or an errno value with *step naming the failed step.
 * Closes the socket on every path.
 */
static int run_dump(int af, uint32_t states, struct out *o, const char **step) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    *step = "socket(AF_NETLINK, NETLINK_SOCK_DIAG)";
    return errno;
  }
  int rc = 0;
  uint8_t *rbuf = NULL;
  const uint32_t seq = 0x70737464; /* arbitrary */

  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = seq;
  msg.req.sdiag_family = (uint8_t)af;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_ext = 0;
  msg.req.idiag_states = states;

  /* A safety net: the kernel always answers a dump, but never block forever. */
  struct timeval tv = {RECV_TIMEOUT_S, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;

  for (int tries = 0;; tries++) {
    ssize_t n = sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (n == (ssize_t)sizeof msg) break;
    if (n < 0 && errno == EINTR && tries < MAX_EINTR) continue;
    *step = "send inet_diag request";
    rc = n < 0 ? errno : EIO;
    goto done;
  }

  rbuf = mmap(NULL, RECV_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (rbuf == MAP_FAILED) {
    rbuf = NULL;
    *step = "allocate receive buffer";
    rc = ENOMEM;
    goto done;
  }

  int eintr = 0;
  for (;;) {
    struct iovec iov = {rbuf, RECV_BYTES};
    struct sockaddr_nl from;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n < 0) {
      if (errno == EINTR && ++eintr < MAX_EINTR) continue;
      rc = errno;
      *step = rc == EAGAIN ? "recv inet_diag reply (timed out)" : "recv inet_diag reply";
      goto done;
    }
    if (n == 0) {
      *step = "recv inet_diag reply (socket closed before NLMSG_DONE)";
      rc = EPROTO;
      goto done;
    }
    if (mh.msg_flags & MSG_TRUNC) {
      *step = "recv inet_diag reply (message truncated)";
      rc = EMSGSIZE;
      goto done;
    }
    if (from.nl_pid != 0) continue; /* not from the kernel */

    /* Reserve room for every message this datagram can hold, then fill without checks. */
    size_t most = (size_t)n / NLMSG_LENGTH(sizeof(struct inet_diag_msg)) + 1;
    if (out_reserve(o, most * RECORD_BYTES) != 0) {
      *step = "grow output buffer";
      rc = ENOMEM;
      goto done;
    }

    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        /* Since Linux 4.x the DONE message carries the dump's final status (0 or -errno). */
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int status;
          memcpy(&status, NLMSG_DATA(h), sizeof status);
          if (status < 0) {
            *step = "kernel ended the dump with an error";
            rc = -status;
          }
        }
        goto done;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e)) {
          *step = "kernel reply (short NLMSG_ERROR)";
          rc = EPROTO;
          goto done;
        }
        if (e->error == 0) continue; /* an ACK */
        *step = "kernel answered the inet_diag request";
        rc = -e->error;
        goto done;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        *step = "kernel reply (short inet_diag_msg)";
        rc = EPROTO;
        goto done;
      }
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6) continue;
      put_record(o->data + o->len, m);
      o->len += RECORD_BYTES;
    }
  }

done:
  if (rbuf != NULL) munmap(rbuf, RECV_BYTES);
  close(fd); /* Linux releases the fd even if close() reports EINTR: never retry it. */
  return rc;
}

static napi_value dump(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;

  int32_t family = 0;
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sockdiag: family must be 4 or 6");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6)) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "sockdiag: family must be 4 or 6");
    return NULL;
  }
  uint32_t states = 0xFFF;
  if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t != napi_undefined) {
    if (t != napi_number || napi_get_value_uint32(env, argv[1], &states) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sockdiag: statesMask must be a number");
      return NULL;
    }
  }

  struct out o = {NULL, 0, 0};
  const char *step = "dump";
  int e = run_dump(family == 6 ? AF_INET6 : AF_INET, states, &o, &step);
  if (e != 0) {
    out_free(&o);
    throw_errno(env, step, e);
    return NULL;
  }
  napi_value result;
  if (o.len == 0) {
    out_free(&o);
    if (napi_create_buffer(env, 0, NULL, &result) != napi_ok) {
      throw_errno(env, "create Buffer", ENOMEM);
      return NULL;
    }
    return result;
  }
  /*
   * One copy into a V8 Buffer, then the mapping goes back to the kernel at once. Not an external
   * Buffer over the mapping: Node runs an external Buffer's finalizer from a later event-loop turn
   * (SetImmediate), so back-to-back dumps kept every mapping until the loop turned (scan-cost
   * bench, 100 dumps at 28 000 sockets: RSS +94 MB and still there; with the copy, a +18 MB peak and
   * back to the start).
   */
  napi_status s = napi_create_buffer_copy(env, o.len, o.data, NULL, &result);
  out_free(&o);
  if (s != napi_ok) {
    throw_errno(env, "create Buffer", ENOMEM);
    return NULL;
  }
  return result;
}

/* errname(errno): the shared table's name for an errno (see native/common/errno-name.h). */
static napi_value errname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v, result;
  napi_valuetype t;
  int32_t err;
  char buf[PS_ERRNO_NAME_BYTES];
  if (napi_get_cb_info(env, info, &argc, &v, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_int32(env, v, &err) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sockdiag: errname(errno)");
    return NULL;
  }
  if (napi_create_string_utf8(env, ps_errno_name(err, buf, sizeof buf), NAPI_AUTO_LENGTH, &result) != napi_ok) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, version;
  if (napi_create_function(env, "dump", NAPI_AUTO_LENGTH, dump, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "dump", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "errname", NAPI_AUTO_LENGTH, errname, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "errname", fn) != napi_ok) return NULL;
  if (napi_create_int32(env, 2, &version) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "version", version) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
