/*
 * TLS for the connection engine (see tls.h), against OpenSSL 3's public API, compiled with the
 * headers Node ships (node-gyp's include path) and linked against nothing: the functions come from
 * the process at run time (Node exports its OpenSSL; a distribution's node loads libssl.so.3).
 *
 * Every OpenSSL function used is declared weak (OSSL_FUNCS): a process without it resolves it to
 * NULL instead of failing to load the addon, even under LD_BIND_NOW, and tls_available() checks that
 * every one is there and that the library is 3.x before anything calls it. A function used here
 * and missing from the list is a strong reference again (test/unit/native-tls-symbols.test.ts
 * checks the binary for that).
 *
 * Verification is Node's: the chain is verified completely (the verify callback accepts every
 * error) and its last error is the one reported, as node:tls reports SSL_get_verify_result() after
 * its always-accepting callback; only a chain without error is then checked against the host name
 * or address, as Node's checkServerIdentity runs only then. Unlike node:tls, a failure ends the
 * handshake at once with an alert (the certificate verify callback returns 0), rather than after it.
 */
#define _GNU_SOURCE
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define OSSL_FUNCS(X)                                                                                                            \
  X(OpenSSL_version_num) X(OpenSSL_version) X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl)                  \
  X(SSL_CTX_set_options) X(SSL_CTX_set_verify) X(SSL_CTX_set_cert_verify_callback) X(SSL_CTX_set_cert_store)                       \
  X(SSL_CTX_use_certificate) X(SSL_CTX_use_PrivateKey) X(SSL_CTX_check_private_key) X(SSL_CTX_set_alpn_protos)                    \
  X(SSL_CTX_sess_set_new_cb) X(SSL_CTX_set_ex_data) X(SSL_CTX_get_ex_data) X(SSL_new) X(SSL_free) X(SSL_set_fd) X(SSL_connect)   \
  X(SSL_read) X(SSL_write) X(SSL_shutdown) X(SSL_set_shutdown) X(SSL_get_error) X(SSL_ctrl) X(SSL_set_session)                    \
  X(SSL_session_reused) X(SSL_get_verify_result) X(SSL_set_ex_data) X(SSL_get_ex_data) X(SSL_get_SSL_CTX) X(SSL_set_options)       \
  X(SSL_get_rbio) X(SSL_get_ex_data_X509_STORE_CTX_idx) X(SSL_SESSION_free) X(SSL_SESSION_is_resumable) X(SSL_SESSION_dup) X(ERR_clear_error)        \
  X(ERR_peek_error) X(ERR_reason_error_string) X(ERR_error_string_n) X(BIO_new_mem_buf) X(BIO_free) X(BIO_ctrl)                    \
  X(PEM_read_bio_X509) X(PEM_read_bio_PrivateKey) X(X509_free) X(EVP_PKEY_free) X(X509_STORE_new) X(X509_STORE_free)              \
  X(X509_STORE_add_cert) X(X509_verify_cert) X(X509_STORE_CTX_get_error) X(X509_STORE_CTX_set_error) X(X509_STORE_CTX_get0_cert) \
  X(X509_STORE_CTX_get_ex_data) X(X509_check_host) X(X509_check_ip_asc) X(X509_verify_cert_error_string) X(X509_get_ext_d2i)     \
  X(GENERAL_NAMES_free) X(OPENSSL_sk_num) X(OPENSSL_sk_value) X(ASN1_STRING_get0_data) X(ASN1_STRING_length)                      \
  X(X509_get_subject_name) X(X509_NAME_get_index_by_NID) X(X509_NAME_get_entry) X(X509_NAME_ENTRY_get_data) X(OPENSSL_init_ssl)

#define PRAGMA(x) _Pragma(#x)
#define WEAK(f) PRAGMA(weak f)
OSSL_FUNCS(WEAK)

/* Most distinct messages a context keeps (host name mismatches: one per certificate, in practice). */
#define TEXT_CAP 64
#define TEXT_BYTES 1024

struct tls_ctx {
  SSL_CTX *ctx;
  int resumption;
  char *servername; /* SNI (a name), or NULL */
  char *check_host; /* the name the certificate must cover, or NULL */
  char *check_ip;   /* the address it must cover, or NULL */
  /* Engine thread only: the newest resumable session (resumption on). */
  SSL_SESSION *session;
  pthread_mutex_t mu;
  char *texts[TEXT_CAP];
  int n_texts;
};

/* ---- availability ---- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int available;
static const char *reason = "not checked";
static char version_text[128];
static char reason_text[160];

static void probe(void) {
  const char *hook = getenv("PORTSTORM_NATIVE_TLS");
  if (hook != NULL && (strcmp(hook, "0") == 0 || strcmp(hook, "off") == 0)) {
    snprintf(reason_text, sizeof reason_text, "disabled by PORTSTORM_NATIVE_TLS=%s", hook);
    reason = reason_text;
    return;
  }
#define MISSING(f) \
  if ((void *)&f == NULL) {                                                                           \
    reason = "this process has no OpenSSL (" #f " is not exported: a node built without OpenSSL?)"; \
    return;                                                                                           \
  }
  OSSL_FUNCS(MISSING)
#undef MISSING
  unsigned long v = OpenSSL_version_num();
  const char *text = OpenSSL_version(OPENSSL_VERSION);
  snprintf(version_text, sizeof version_text, "%s", text != NULL ? text : "OpenSSL");
  if ((v >> 28) < 3) {
    snprintf(reason_text, sizeof reason_text, "%s is older than OpenSSL 3.0", version_text);
    reason = reason_text;
    return;
  }
  /* Error strings (Node may not have loaded them yet): tlsErrorText() names errors before any SSL_CTX. */
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
  available = 1;
  reason = NULL;
}

int tls_available(void) {
  pthread_once(&once, probe);
  return available;
}

const char *tls_version(void) { return tls_available() ? version_text : NULL; }

const char *tls_unavailable_reason(void) {
  tls_available();
  return reason;
}

/* ---- messages ---- */

/* The index of `s` among the context's messages (added once), or -1 when they are full. */
static int32_t intern(tls_ctx *t, const char *s) {
  int32_t found = -1;
  pthread_mutex_lock(&t->mu);
  for (int i = 0; i < t->n_texts; i++) {
    if (strcmp(t->texts[i], s) == 0) {
      found = i;
      break;
    }
  }
  if (found < 0 && t->n_texts < TEXT_CAP) {
    char *copy = strdup(s);
    if (copy != NULL) {
      t->texts[t->n_texts] = copy;
      found = t->n_texts++;
    }
  }
  pthread_mutex_unlock(&t->mu);
  return found;
}

const char *tls_text(tls_ctx *t, int32_t i) {
  const char *s = NULL;
  pthread_mutex_lock(&t->mu);
  if (i >= 0 && i < t->n_texts) s = t->texts[i];
  pthread_mutex_unlock(&t->mu);
  return s;
}

const char *tls_verify_text(long n) { return X509_verify_cert_error_string(n); }

void tls_error_text(uint32_t code, char *reason_out, size_t reason_len, char *full, size_t full_len) {
  const char *r = ERR_reason_error_string(code);
  snprintf(reason_out, reason_len, "%s", r != NULL ? r : "");
  ERR_error_string_n(code, full, full_len);
}

/* ---- Node's host name check message (lib/tls.js checkServerIdentity) ---- */

typedef struct strbuf {
  char *p;
  size_t len, cap;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) n = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* As Node's IsSafeAltName (non-UTF-8 strings): printable ASCII without " \ , '. */
static int safe_alt_name(const unsigned char *s, int n) {
  for (int i = 0; i < n; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\' || c == ',' || c == '\'' || c < ' ' || c > '~') return 0;
  }
  return 1;
}

/* A name as Node prints it in subjectaltname: as is when safe, else JSON-quoted. */
static void sb_alt_name(strbuf *b, const unsigned char *s, int n) {
  if (safe_alt_name(s, n)) {
    sb_put(b, (const char *)s, (size_t)n);
    return;
  }
  sb_puts(b, "\"");
  for (int i = 0; i < n; i++) {
    char esc[8];
    unsigned char c = s[i];
    if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
    else if (c < ' ' || c > '~') snprintf(esc, sizeof esc, "\\u%04x", c);
    else snprintf(esc, sizeof esc, "%c", c);
    sb_puts(b, esc);
  }
  sb_puts(b, "\"");
}

/*
 * The message of Node's ERR_TLS_CERT_ALTNAME_INVALID for `leaf` and the host (`ip`: an address):
 * the certificate's subjectaltname as Node formats it (IPv6 as eight upper-case hex groups), the
 * addresses in canonical form.
 */
static void altname_message(X509 *leaf, const char *host, int ip, char *out, size_t n) {
  char alt[TEXT_BYTES] = "", ips[TEXT_BYTES] = "";
  strbuf a = {alt, 0, sizeof alt}, l = {ips, 0, sizeof ips};
  int dns = 0;
  GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
  int count = names != NULL ? OPENSSL_sk_num((const OPENSSL_STACK *)names) : 0;
  for (int i = 0; i < count; i++) {
    const GENERAL_NAME *g = OPENSSL_sk_value((const OPENSSL_STACK *)names, i);
    const char *prefix = NULL;
    const ASN1_STRING *s = NULL;
    if (g->type == GEN_DNS) prefix = "DNS:", s = g->d.dNSName, dns++;
    else if (g->type == GEN_EMAIL) prefix = "email:", s = g->d.rfc822Name;
    else if (g->type == GEN_URI) prefix = "URI:", s = g->d.uniformResourceIdentifier;
    else if (g->type != GEN_IPADD) continue;
    if (a.len > 0) sb_puts(&a, ", ");
    if (s != NULL) {
      sb_puts(&a, prefix);
      sb_alt_name(&a, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
      continue;
    }
    const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
    int len = ASN1_STRING_length(g->d.iPAddress);
    char text[64], canon[INET6_ADDRSTRLEN];
    if (len == 4) {
      snprintf(text, sizeof text, "%d.%d.%d.%d", d[0], d[1], d[2], d[3]);
      inet_ntop(AF_INET, d, canon, sizeof canon);
    } else if (len == 16) {
      int at = 0;
      for (int j = 0; j < 8; j++) at += snprintf(text + at, sizeof text - (size_t)at, j == 0 ? "%X" : ":%X", (d[2 * j] << 8) | d[2 * j + 1]);
      inet_ntop(AF_INET6, d, canon, sizeof canon);
    } else {
      snprintf(text, sizeof text, "<invalid>");
      snprintf(canon, sizeof canon, "<invalid>");
    }
    sb_puts(&a, "IP Address:");
    sb_puts(&a, text);
    if (l.len > 0) sb_puts(&l, ", ");
    sb_puts(&l, canon);
  }
  if (names != NULL) GENERAL_NAMES_free(names);
  const char *head = "Hostname/IP does not match certificate's altnames: ";
  if (ip) {
    snprintf(out, n, "%sIP: %s is not in the cert's list: %s", head, host, ips);
    return;
  }
  if (dns > 0) {
    snprintf(out, n, "%sHost: %s. is not in the cert's altnames: %s", head, host, alt);
    return;
  }
  X509_NAME *subject = X509_get_subject_name(leaf);
  int at = subject != NULL ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
  if (at >= 0) {
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    snprintf(out, n, "%sHost: %s. is not cert's CN: %.*s", head, host, ASN1_STRING_length(cn), (const char *)ASN1_STRING_get0_data(cn));
    return;
  }
  snprintf(out, n, "%sCert does not contain a DNS name", head);
}

/* ---- verification ---- */

/* Every chain error is left for the end (see the top of this file). */
static int accept_all(int ok, X509_STORE_CTX *store) { return 1; }

/* tls.insecure: OpenSSL would still verify the chain (for SSL_get_verify_result) under SSL_VERIFY_NONE. */
static int no_verification(X509_STORE_CTX *store, void *arg) { return 1; }

static int verify_chain(X509_STORE_CTX *store, void *arg) {
  tls_ctx *t = arg;
  int ok = X509_verify_cert(store);
  int err = X509_STORE_CTX_get_error(store);
  if (ok <= 0 || err != X509_V_OK) {
    if (err == X509_V_OK) X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  if (t->check_host == NULL && t->check_ip == NULL) return 1;
  X509 *leaf = X509_STORE_CTX_get0_cert(store);
  int match = t->check_ip != NULL ? X509_check_ip_asc(leaf, t->check_ip, 0) : X509_check_host(leaf, t->check_host, strlen(t->check_host), 0, NULL);
  if (match == 1) return 1;
  X509_STORE_CTX_set_error(store, t->check_ip != NULL ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  int32_t *text = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
  if (text != NULL) {
    char msg[TEXT_BYTES];
    altname_message(leaf, t->check_ip != NULL ? t->check_ip : t->check_host, t->check_ip != NULL, msg, sizeof msg);
    *text = intern(t, msg);
  }
  return 0;
}

/* ---- sessions ---- */

/* Keeps the newest resumable session (TLS 1.3: from the tickets that follow the handshake). */
static int new_session(SSL *ssl, SSL_SESSION *session) {
  tls_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (t == NULL || !SSL_SESSION_is_resumable(session)) return 0;
  if (t->session != NULL) SSL_SESSION_free(t->session);
  t->session = session;
  return 1; /* the reference is ours */
}

/* ---- the context ---- */

static int is_ip(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Adds every certificate of PEM text `pem` to `store`; how many, or -1. */
static int add_pem_certs(X509_STORE *store, const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  if (bio == NULL) return -1;
  int n = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, "")) != NULL) {
    if (X509_STORE_add_cert(store, x) == 1) n++;
    X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error(); /* the read that found no more */
  return n;
}

/* Loads the client certificate chain and key; 0, or -1 with `err` set. */
static int use_client_cert(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t errlen) {
  BIO *bio = BIO_new_mem_buf(cert, -1);
  if (bio == NULL) return snprintf(err, errlen, "out of memory"), -1;
  X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, "");
  int ok = leaf != NULL && SSL_CTX_use_certificate(ctx, leaf) == 1;
  if (leaf != NULL) X509_free(leaf);
  X509 *x;
  while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, "")) != NULL) {
    if (SSL_CTX_add0_chain_cert(ctx, x) != 1) X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!ok) return snprintf(err, errlen, "tls.cert holds no usable PEM certificate"), -1;
  bio = BIO_new_mem_buf(key, -1);
  if (bio == NULL) return snprintf(err, errlen, "out of memory"), -1;
  /* The password "" (never a prompt on the terminal): an encrypted key fails. */
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, "");
  BIO_free(bio);
  ok = pkey != NULL && SSL_CTX_use_PrivateKey(ctx, pkey) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  if (pkey != NULL) EVP_PKEY_free(pkey);
  ERR_clear_error();
  if (!ok) return snprintf(err, errlen, "tls.key is not an unencrypted PEM private key of tls.cert"), -1;
  return 0;
}

void tls_ctx_free(tls_ctx *t) {
  if (t == NULL) return;
  if (t->session != NULL) SSL_SESSION_free(t->session);
  if (t->ctx != NULL) SSL_CTX_free(t->ctx);
  for (int i = 0; i < t->n_texts; i++) free(t->texts[i]);
  pthread_mutex_destroy(&t->mu);
  free(t->servername);
  free(t->check_host);
  free(t->check_ip);
  free(t);
}

tls_ctx *tls_ctx_new(const tls_options *o, char *err, size_t errlen) {
  if (!tls_available()) {
    snprintf(err, errlen, "TLS is unavailable: %s", tls_unavailable_reason());
    return NULL;
  }
  tls_ctx *t = calloc(1, sizeof *t);
  if (t == NULL) return snprintf(err, errlen, "out of memory"), NULL;
  pthread_mutex_init(&t->mu, NULL);
  t->resumption = o->resumption;
#define FAIL(...)                         \
  do {                                    \
    snprintf(err, errlen, __VA_ARGS__);   \
    ERR_clear_error();                    \
    tls_ctx_free(t);                      \
    return NULL;                          \
  } while (0)
  /* SNI only for a name (RFC 6066: never an address); the check is against the name, else the address. */
  const char *name = o->servername != NULL && o->servername[0] != 0 ? o->servername : NULL;
  if (name != NULL && !is_ip(name)) {
    t->servername = strdup(name);
    t->check_host = strdup(name);
    if (t->servername == NULL || t->check_host == NULL) FAIL("out of memory");
  } else if (!o->insecure) {
    const char *ip = name != NULL ? name : o->target_ip;
    if (ip == NULL || (t->check_ip = strdup(ip)) == NULL) FAIL("out of memory");
  }

  t->ctx = SSL_CTX_new(TLS_client_method());
  if (t->ctx == NULL) FAIL("SSL_CTX_new failed");
  SSL_CTX_set_app_data(t->ctx, t);
  /* Node's default floor (tls.DEFAULT_MIN_VERSION); groups and ciphers are OpenSSL's defaults. */
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  /* Whole socket reads into OpenSSL's buffer rather than a header and a body per record. */
  SSL_CTX_set_read_ahead(t->ctx, 1);
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
  if (o->resumption) {
    /* Sessions go to new_session() only (TLS 1.3 tickets arrive after the handshake). */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, new_session);
  } else {
    /*
     * No session offered, none kept, and (TLS 1.2) no session_ticket extension, so the server
     * issues none. TLS 1.3 servers send tickets regardless: OpenSSL's client always sends
     * psk_key_exchange_modes and has no option to leave it out.
     */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
  }
  if (o->alpn_len > 0 && SSL_CTX_set_alpn_protos(t->ctx, o->alpn, (unsigned int)o->alpn_len) != 0) FAIL("tls.alpn is not a valid protocol list");
  if (o->insecure) {
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_cert_verify_callback(t->ctx, no_verification, NULL);
  } else {
    if (o->ca == NULL) FAIL("tls.ca is required unless tls.insecure");
    X509_STORE *store = X509_STORE_new();
    if (store == NULL) FAIL("out of memory");
    int n = add_pem_certs(store, o->ca);
    if (n <= 0) {
      X509_STORE_free(store);
      FAIL("tls.ca holds no PEM certificate");
    }
    SSL_CTX_set_cert_store(t->ctx, store);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, accept_all);
    SSL_CTX_set_cert_verify_callback(t->ctx, verify_chain, t);
  }
  if ((o->cert != NULL) != (o->key != NULL)) FAIL("tls.cert and tls.key go together");
  if (o->cert != NULL && use_client_cert(t->ctx, o->cert, o->key, err, errlen) < 0) {
    tls_ctx_free(t);
    return NULL;
  }
#undef FAIL
  return t;
}

/* ---- connections ---- */

SSL *tls_conn_new(tls_ctx *t, int fd, int32_t *text) {
  SSL *s = SSL_new(t->ctx);
  if (s == NULL) {
    ERR_clear_error();
    return NULL;
  }
  *text = -1;
  SSL_set_app_data(s, text);
  if (SSL_set_fd(s, fd) != 1 || (t->servername != NULL && SSL_set_tlsext_host_name(s, t->servername) != 1)) {
    SSL_free(s);
    ERR_clear_error();
    return NULL;
  }
  if (t->resumption && t->session != NULL) {
    /*
     * A copy (it shares the certificates): an OpenSSL 3 client marks a TLS 1.3 session not
     * resumable once it has resumed it, which would spoil the one kept for the next connections.
     */
    SSL_SESSION *copy = SSL_SESSION_dup(t->session);
    if (copy != NULL) {
      SSL_set_session(s, copy);
      SSL_SESSION_free(copy);
    }
    ERR_clear_error();
  }
  return s;
}

void tls_conn_free(SSL *s) {
  /*
   * SSL_free() on a connection that sent no close_notify marks its session not resumable (which
   * would also spoil the one new_session() keeps): say it was shut down.
   */
  SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(s);
}

/* The errno of a failed SSL call: from the error queue when OpenSSL put it there, else errno. */
static int sys_errno(int saved) {
  unsigned long l = ERR_peek_error();
  if (l != 0 && ERR_SYSTEM_ERROR(l)) return ERR_GET_REASON(l);
  return saved;
}

/* Fills *f for a failed SSL call (`e`: SSL_get_error) and empties the thread's error queue. */
static int failed(SSL *s, int e, int saved, int writing, tls_failure *f) {
  unsigned long l = ERR_peek_error();
  f->text = -1;
  f->write = writing;
  if (e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL && l != 0 && ERR_SYSTEM_ERROR(l))) {
    int err = sys_errno(saved);
    f->kind = err != 0 ? TLSF_ERRNO : TLSF_DISCONNECT;
    f->err = err;
    f->write = writing || err == EPIPE;
  } else if (e == SSL_ERROR_ZERO_RETURN || (ERR_GET_LIB(l) == ERR_LIB_SSL && ERR_GET_REASON(l) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    f->kind = TLSF_DISCONNECT;
    f->err = 0;
  } else if (ERR_GET_LIB(l) == ERR_LIB_SSL && ERR_GET_REASON(l) == SSL_R_CERTIFICATE_VERIFY_FAILED && SSL_get_verify_result(s) != X509_V_OK) {
    long v = SSL_get_verify_result(s);
    int32_t *text = SSL_get_app_data(s);
    f->kind = TLSF_VERIFY;
    f->err = (int32_t)v;
    f->text = (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) && text != NULL ? *text : -1;
  } else {
    f->kind = TLSF_LIB;
    f->err = (int32_t)(l != 0 ? l : ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR));
  }
  ERR_clear_error();
  return TLS_FAILED;
}

int tls_handshake(SSL *s, tls_failure *f) {
  ERR_clear_error();
  int r = SSL_connect(s);
  if (r == 1) {
    /* From now on a FIN without close_notify reads as the end (an HTTP/1.0 body, a server's close). */
    SSL_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return TLS_DONE;
  }
  int saved = errno;
  int e = SSL_get_error(s, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TLS_AGAIN;
  return failed(s, e, saved, 0, f);
}

int tls_resumed(SSL *s) { return SSL_session_reused(s) == 1; }

int tls_read(SSL *s, void *buf, int n, int *tcp_eof, tls_failure *f) {
  ERR_clear_error();
  int r = SSL_read(s, buf, n);
  if (r > 0) return r;
  int saved = errno;
  int e = SSL_get_error(s, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TLS_AGAIN;
  if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && sys_errno(saved) == 0)) {
    /* close_notify, or the FIN (SSL_OP_IGNORE_UNEXPECTED_EOF): which one the socket BIO knows. */
    *tcp_eof = e == SSL_ERROR_SYSCALL || BIO_eof(SSL_get_rbio(s)) > 0;
    ERR_clear_error();
    return TLS_EOF;
  }
  return failed(s, e, saved, 0, f);
}

int tls_write(SSL *s, const void *buf, int n, tls_failure *f) {
  ERR_clear_error();
  int r = SSL_write(s, buf, n);
  if (r > 0) return r;
  int saved = errno;
  int e = SSL_get_error(s, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TLS_AGAIN;
  failed(s, e, saved, 1, f);
  /* The peer's close_notify came first: writing is refused as a closed socket would refuse it. */
  if (f->kind == TLSF_DISCONNECT) {
    f->kind = TLSF_ERRNO;
    f->err = EPIPE;
  }
  return TLS_FAILED;
}

void tls_close_notify(SSL *s) {
  SSL_shutdown(s);
  ERR_clear_error();
}
