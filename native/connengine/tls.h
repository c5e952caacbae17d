/*
 * TLS for the connection engine: the OpenSSL of the running Node process (its own, or the shared
 * libssl a distribution's node loaded), never a library of our own. Every OpenSSL symbol is a weak
 * reference (tls.c): the addon loads, and plain TCP works, where the process has no OpenSSL 3;
 * tls_available() says whether TLS can be used, and nothing here may be called when it cannot.
 *
 * One tls_ctx (an SSL_CTX, the trust store, the last resumable session) per engine; one SSL per
 * connection, driven on the engine thread over its non-blocking socket (SSL_set_fd).
 */
#ifndef CONNENGINE_TLS_H
#define CONNENGINE_TLS_H

#include <stddef.h>
#include <stdint.h>

struct ssl_st; /* OpenSSL's SSL */

/* Whether OpenSSL >= 3.0 is in this process; decided once. */
int tls_available(void);
/* OpenSSL_version(OPENSSL_VERSION) when available, else NULL. */
const char *tls_version(void);
/* Why TLS is unavailable (NULL when it is available). */
const char *tls_unavailable_reason(void);

/* What create() was given; strings are NUL-terminated and copied by tls_ctx_new(). */
typedef struct tls_options {
  /* A host name: SNI, and the name the certificate must cover. NULL: none (the target's address). */
  const char *servername;
  /* The address the certificate must cover when there is no servername (or it is an address). */
  const char *target_ip;
  int insecure;
  const char *ca; /* PEM; required unless insecure */
  const char *cert, *key;
  int resumption;
  const unsigned char *alpn; /* wire format (length-prefixed names) */
  size_t alpn_len;
} tls_options;

typedef struct tls_ctx tls_ctx;

/* NULL with a message in `err` on failure. JS thread. */
tls_ctx *tls_ctx_new(const tls_options *o, char *err, size_t errlen);
/* After the engine thread stopped. */
void tls_ctx_free(tls_ctx *t);

enum { TLS_EOF = 0, TLS_AGAIN = -1, TLS_FAILED = -2, TLS_DONE = 1 };
/* Kinds of failure. */
enum {
  TLSF_ERRNO = 1,      /* a socket call failed: err is its errno, write says which call */
  TLSF_DISCONNECT = 2, /* the peer closed during the handshake */
  TLSF_VERIFY = 3,     /* certificate verification: err is SSL_get_verify_result() */
  TLSF_LIB = 4,        /* an OpenSSL error: err is its packed code (ERR_peek_error) */
};
typedef struct tls_failure {
  int kind;
  int32_t err;
  int write;
  int32_t text; /* index of a message (tls_text), or -1 */
} tls_failure;

/*
 * A new SSL on `fd`, offering the last resumable session (with resumption). `text` receives the
 * index of a host name mismatch's message; it must outlive the SSL. NULL when out of memory.
 */
struct ssl_st *tls_conn_new(tls_ctx *t, int fd, int32_t *text);
/* Frees the SSL (never closes the socket); a session it made stays resumable. */
void tls_conn_free(struct ssl_st *s);
/* One handshake step: TLS_DONE, TLS_AGAIN (the socket would block), or TLS_FAILED with *f. */
int tls_handshake(struct ssl_st *s, tls_failure *f);
/* Whether the completed handshake resumed a session. */
int tls_resumed(struct ssl_st *s);
/*
 * Decrypted bytes (> 0); TLS_AGAIN once the socket is drained; TLS_EOF at the peer's close_notify
 * or FIN (*tcp_eof: the FIN was read); TLS_FAILED with *f.
 */
int tls_read(struct ssl_st *s, void *buf, int n, int *tcp_eof, tls_failure *f);
/* Bytes written (> 0), TLS_AGAIN, or TLS_FAILED with *f. Retry with the same bytes after TLS_AGAIN. */
int tls_write(struct ssl_st *s, const void *buf, int n, tls_failure *f);
/* Sends close_notify once (no wait for the peer's). */
void tls_close_notify(struct ssl_st *s);

/* Message `i` of this context (host name mismatches), or NULL. Any thread. */
const char *tls_text(tls_ctx *t, int32_t i);
/* X509_verify_cert_error_string(n). */
const char *tls_verify_text(long n);
/* An OpenSSL error's reason string (as node:tls's err.reason) and ERR_error_string_n's text. */
void tls_error_text(uint32_t code, char *reason, size_t reason_len, char *full, size_t full_len);

#endif
