/* Private header shared by every tlsctx C file: module state, object
 * layouts, and the functions one concern exports to another. */
#ifndef TLSCTX_H
#define TLSCTX_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <assert.h>
#include <stdint.h>

#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#if OPENSSL_VERSION_MAJOR < 3
#error "tlsctx needs OpenSSL 3.0 or newer"
#endif

/* Protocol numbers of the stdlib's _SSLMethod enum. */
enum tlsctx_protocol {
    TLSCTX_PROTO_TLSv1 = 3,
    TLSCTX_PROTO_TLSv1_1 = 4,
    TLSCTX_PROTO_TLSv1_2 = 5,
    TLSCTX_PROTO_TLS = 2,
    TLSCTX_PROTO_TLS_CLIENT = 0x10,
    TLSCTX_PROTO_TLS_SERVER = 0x11,
};

/* TLSVersion's two symbolic members. */
#define TLSCTX_VERSION_MINIMUM_SUPPORTED (-2)
#define TLSCTX_VERSION_MAXIMUM_SUPPORTED (-1)

typedef struct tlsctx_trust_cache tlsctx_trust_cache;

typedef struct {
    PyTypeObject *context_type;
    PyTypeObject *connection_type;
    PyTypeObject *memory_bio_type;
    PyTypeObject *session_type;
    PyTypeObject *certificate_type;

    PyObject *SSLError;
    PyObject *SSLZeroReturnError;
    PyObject *SSLWantReadError;
    PyObject *SSLWantWriteError;
    PyObject *SSLSyscallError;
    PyObject *SSLEOFError;
    PyObject *SSLCertVerificationError;

    /* Parsed trust sources and the X509_STOREs shared between contexts. */
    tlsctx_trust_cache *trust_cache;

    /* The running stdlib's build choice for fresh contexts (constants.c):
     * the cipher string it sets (bytes), or NULL when it keeps OpenSSL's
     * default cipher list and sets no TLS 1.2 minimum. */
    PyObject *default_ciphers;

    /* Names set or called on every I/O call, interned once: the methods a
     * Python-level BIO is called through (connection.c) and the attributes
     * every SSLError gets (errors.c). */
    PyObject *str_read, *str_write, *str_pending, *str_eof, *str_reason, *str_library;
} tlsctx_state;

extern PyModuleDef tlsctx_module_def;

/* ---- compatibility with CPython 3.10-3.12 ----------------------------- */
#if PY_VERSION_HEX < 0x030B0000
/* PyType_GetModuleByDef arrived in 3.11: walk the MRO ourselves. */
static inline PyObject *
tlsctx_type_module_by_def(PyTypeObject *type, PyModuleDef *def)
{
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE)) {
            PyObject *module = ((PyHeapTypeObject *)base)->ht_module;
            if (module != NULL && PyModule_GetDef(module) == def) {
                return module;
            }
        }
    }
    PyErr_Format(PyExc_TypeError, "PyType_GetModuleByDef: No superclass of '%s' has the given module",
                 type->tp_name);
    return NULL;
}
#define PyType_GetModuleByDef tlsctx_type_module_by_def
#endif

/* PyModule_Add (3.13) steals the reference even on failure. */
static inline int
tlsctx_module_add(PyObject *module, const char *name, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    int rc = PyModule_AddObjectRef(module, name, value);
    Py_DECREF(value);
    return rc;
}

static inline tlsctx_state *
tlsctx_get_state(PyObject *module)
{
    void *state = PyModule_GetState(module);
    assert(state != NULL);
    return (tlsctx_state *)state;
}

static inline tlsctx_state *
tlsctx_state_from_type(PyTypeObject *type)
{
    PyObject *module = PyType_GetModuleByDef(type, &tlsctx_module_def);
    assert(module != NULL);
    return tlsctx_get_state(module);
}

/* The setter contract's first rule: attributes cannot be deleted. */
#define REJECT_DELETE(value)                                                    \
    do {                                                                        \
        if ((value) == NULL) {                                                  \
            PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");   \
            return -1;                                                          \
        }                                                                       \
    } while (0)

/* ... in the words of CPython 3.14+'s Argument Clinic setters, for the
 * attributes whose setters it generates there */
#define REJECT_DELETE_NAMED(self, value, name)                                  \
    do {                                                                        \
        if ((value) == NULL) {                                                  \
            PyErr_Format(PyExc_AttributeError,                                  \
                         "attribute '%s' of '%s' objects cannot be deleted",    \
                         (name), Py_TYPE(self)->tp_name);                       \
            return -1;                                                          \
        }                                                                       \
    } while (0)

/* ---- locks for state that threads share ------------------------------ */
/* The module declares Py_MOD_GIL_USED; these mark (and on 3.13+ guard, for
 * the day it does not) the short sections where a free-threaded build would
 * race: read a field and take a reference, or swap a field. No Python code
 * and no DECREF runs while one is held. A zeroed lock is unlocked. Before
 * 3.13 there is no free-threaded build and the GIL is enough. */
#if PY_VERSION_HEX >= 0x030D0000
typedef PyMutex tlsctx_lock;
#define tlsctx_lock_acquire(lock) PyMutex_Lock(lock)
#define tlsctx_lock_release(lock) PyMutex_Unlock(lock)
#else
typedef struct {
    char unused;
} tlsctx_lock;
#define tlsctx_lock_acquire(lock) ((void)(lock))
#define tlsctx_lock_release(lock) ((void)(lock))
#endif

/* A new reference to *slot (NULL when empty), read under `lock`. */
static inline PyObject *
tlsctx_locked_get(tlsctx_lock *lock, PyObject **slot)
{
    tlsctx_lock_acquire(lock);
    PyObject *value = Py_XNewRef(*slot);
    tlsctx_lock_release(lock);
    return value;
}

/* Store `value` (a reference given away, or NULL) under `lock`; the old
 * value is released once the lock is. */
static inline void
tlsctx_locked_set(tlsctx_lock *lock, PyObject **slot, PyObject *value)
{
    tlsctx_lock_acquire(lock);
    PyObject *old = *slot;
    *slot = value;
    tlsctx_lock_release(lock);
    Py_XDECREF(old);
}

/* ---- the context object ---------------------------------------------- */

typedef struct {
    PyObject_HEAD
    SSL_CTX *ctx;
    tlsctx_state *state;       /* cached: the module outlives its types' instances */
    int protocol;
    int check_hostname;
    int post_handshake_auth;
    unsigned int host_flags;
    /* What the context trusts and how its (maybe shared) store is kept: see
     * trustcache.c. Holds references to the parsed sources, which hold none. */
    struct tlsctx_trust *trust;
    /* callbacks and their Python objects: every field below is in traverse and
     * clear; the callbacks and alpn_protocols are read and replaced under `lock` */
    tlsctx_lock lock;
    PyObject *sni_callback;
    PyObject *psk_client_callback;
    PyObject *psk_server_callback;
    PyObject *keylog_filename;
    BIO *keylog_bio;
    PyObject *msg_callback;    /* _msg_callback: called for every TLS protocol message */
    /* the server's ALPN list in wire format: an immutable bytes object that
     * each connection pins when it is made (NULL until set) */
    PyObject *alpn_protocols;
} tlsctx_context;

/* ---- threading.c: how OpenSSL calls back into Python ----------------- */
/* A frame on the C stack of an OpenSSL call made without the GIL. */
typedef struct tlsctx_call_frame {
    struct tlsctx_call_frame *outer;   /* the enclosing call on this thread */
    const void *owner;                 /* the connection making the call, or NULL */
    PyThreadState *saved;              /* while the GIL is released */
} tlsctx_call_frame;
/* Around the OpenSSL call (GIL held before and after). */
void tlsctx_release_gil(tlsctx_call_frame *frame, const void *owner);
void tlsctx_restore_gil(tlsctx_call_frame *frame);
/* Around a callback's Python code: takes the GIL back with the caller's own
 * thread state, or does nothing when the GIL is held; pass the result to
 * tlsctx_callback_leave. */
tlsctx_call_frame *tlsctx_callback_enter(void);
void tlsctx_callback_leave(tlsctx_call_frame *frame);
/* Whether `owner` is making an OpenSSL call further up this thread's stack. */
int tlsctx_in_call(const void *owner);

/* ---- errors.c -------------------------------------------------------- */
int tlsctx_setup_exceptions(PyObject *module, tlsctx_state *state);
int tlsctx_setup_error_tables(PyObject *module, tlsctx_state *state);
/* Raise an SSLError subclass from the newest error on the OpenSSL queue
 * (or `message` if the queue is empty), then drain the queue. Returns NULL. */
PyObject *tlsctx_raise_ssl_error(tlsctx_state *state, PyObject *type,
                                 const char *message, const char *file, int line);
#define tlsctx_set_ssl_error(state, msg) \
    tlsctx_raise_ssl_error((state), NULL, (msg), __FILE__, __LINE__)
/* Build and raise an SSLError for a specific packed error code. */
PyObject *tlsctx_raise_ssl_error_code(tlsctx_state *state, PyObject *type, int ssl_errno,
                                      unsigned long code, const char *message,
                                      const char *file, int line);
/* The stdlib's SSLErrorNumber values past OpenSSL's SSL_ERROR_* ones. */
#define TLSCTX_SSL_ERROR_EOF 8
#define TLSCTX_SSL_ERROR_NO_SOCKET 9
#define TLSCTX_SSL_ERROR_INVALID_ERROR_CODE 10
/* A failed call on a connection: the class and text from SSL_get_error's
 * `ssl_error` (and errno saved right after the call), as the stdlib's; a
 * certificate failure gets verify_code/verify_message. Returns NULL. */
PyObject *tlsctx_raise_connection_error(tlsctx_state *state, SSL *ssl, int ssl_error,
                                        int saved_errno, PyObject *server_hostname,
                                        const char *file, int line);
/* Errors from a system call: OSError from errno, or the queue if errno is 0. */
PyObject *tlsctx_raise_errno_or_ssl(tlsctx_state *state, int saved_errno, PyObject *filename,
                                    const char *file, int line);

/* ---- constants.c ----------------------------------------------------- */
int tlsctx_setup_constants(PyObject *module, tlsctx_state *state);

/* ---- context.c ------------------------------------------------------- */
int tlsctx_setup_context_type(PyObject *module, tlsctx_state *state);
int tlsctx_context_set_verify_mode(tlsctx_context *self, int mode);
/* distrust.c: the verify callback every context installs (CPython 3.14+'s rules) */
int tlsctx_verify_callback(int preverify_ok, X509_STORE_CTX *store_ctx);

/* ---- context_endpoint.c --------------------------------------------- */
/* Set up and release what the endpoint settings attach to an SSL_CTX. */
int tlsctx_context_endpoint_init(tlsctx_context *self);
void tlsctx_context_endpoint_free(tlsctx_context *self);
/* The methods and attributes context.c lists in its type, implemented there. */
PyObject *tlsctx_context_load_cert_chain(tlsctx_context *self, PyObject *args, PyObject *kwargs);
PyObject *tlsctx_context_set_ciphers(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_get_ciphers(tlsctx_context *self, PyObject *unused);
PyObject *tlsctx_context_set_alpn_protocols(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_set_ecdh_curve(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_load_dh_params(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_session_stats(tlsctx_context *self, PyObject *unused);
/* Test hook: (leaf DER, [chain DER], public key DER) of the current certificate. */
PyObject *tlsctx_context_loaded_chain(tlsctx_context *self, PyObject *unused);
PyObject *tlsctx_context_set_psk_client_callback(tlsctx_context *self, PyObject *args,
                                                 PyObject *kwargs);
PyObject *tlsctx_context_set_psk_server_callback(tlsctx_context *self, PyObject *args,
                                                 PyObject *kwargs);
PyObject *tlsctx_context_get_sni_callback(tlsctx_context *self, void *closure);
int tlsctx_context_set_sni_callback(tlsctx_context *self, PyObject *value, void *closure);
PyObject *tlsctx_context_get_keylog_filename(tlsctx_context *self, void *closure);
int tlsctx_context_set_keylog_filename(tlsctx_context *self, PyObject *value, void *closure);
PyObject *tlsctx_context_get_msg_callback(tlsctx_context *self, void *closure);
int tlsctx_context_set_msg_callback(tlsctx_context *self, PyObject *value, void *closure);
PyObject *tlsctx_context_get_num_tickets(tlsctx_context *self, void *closure);
int tlsctx_context_set_num_tickets(tlsctx_context *self, PyObject *value, void *closure);

#define TLSCTX_CONTEXT_ENDPOINT_METHODS                                                   \
    {"load_cert_chain", (PyCFunction)(void (*)(void))tlsctx_context_load_cert_chain,      \
     METH_VARARGS | METH_KEYWORDS, NULL},                                                 \
    {"set_ciphers", (PyCFunction)tlsctx_context_set_ciphers, METH_O, NULL},               \
    {"get_ciphers", (PyCFunction)tlsctx_context_get_ciphers, METH_NOARGS, NULL},          \
    {"_set_alpn_protocols", (PyCFunction)tlsctx_context_set_alpn_protocols, METH_O, NULL}, \
    {"set_ecdh_curve", (PyCFunction)tlsctx_context_set_ecdh_curve, METH_O, NULL},         \
    {"load_dh_params", (PyCFunction)tlsctx_context_load_dh_params, METH_O, NULL},         \
    {"session_stats", (PyCFunction)tlsctx_context_session_stats, METH_NOARGS, NULL},      \
    {"_loaded_chain", (PyCFunction)tlsctx_context_loaded_chain, METH_NOARGS, NULL},       \
    {"set_psk_client_callback",                                                           \
     (PyCFunction)(void (*)(void))tlsctx_context_set_psk_client_callback,                 \
     METH_VARARGS | METH_KEYWORDS, NULL},                                                 \
    {"set_psk_server_callback",                                                           \
     (PyCFunction)(void (*)(void))tlsctx_context_set_psk_server_callback,                 \
     METH_VARARGS | METH_KEYWORDS, NULL},

#define TLSCTX_CONTEXT_ENDPOINT_GETSET                                                    \
    {"sni_callback", (getter)tlsctx_context_get_sni_callback,                             \
     (setter)tlsctx_context_set_sni_callback, NULL, NULL},                                \
    {"keylog_filename", (getter)tlsctx_context_get_keylog_filename,                       \
     (setter)tlsctx_context_set_keylog_filename, NULL, NULL},                             \
    {"num_tickets", (getter)tlsctx_context_get_num_tickets,                               \
     (setter)tlsctx_context_set_num_tickets, NULL, NULL},                                 \
    {"_msg_callback", (getter)tlsctx_context_get_msg_callback,                            \
     (setter)tlsctx_context_set_msg_callback, NULL, NULL},

/* ---- context_modern.c ----------------------------------------------- */
/* CPython 3.15's groups, TLS 1.3 suites and signature algorithms. */
int tlsctx_setup_modern(PyObject *module, tlsctx_state *state); /* get_sigalgs() */
PyObject *tlsctx_context_set_groups(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_get_groups(tlsctx_context *self, PyObject *args, PyObject *kwargs);
PyObject *tlsctx_context_set_ciphersuites(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_set_client_sigalgs(tlsctx_context *self, PyObject *arg);
PyObject *tlsctx_context_set_server_sigalgs(tlsctx_context *self, PyObject *arg);
/* For the connection type's group(), client_sigalg(), server_sigalg()
 * (SSLSocket and SSLObject): a new str, or None when the handshake has not
 * chosen one (or ssl is NULL). GIL held; never fails except on memory. */
PyObject *tlsctx_ssl_group(SSL *ssl);
PyObject *tlsctx_ssl_client_sigalg(SSL *ssl);
PyObject *tlsctx_ssl_server_sigalg(SSL *ssl);

#define TLSCTX_CONTEXT_MODERN_METHODS                                                     \
    {"set_groups", (PyCFunction)tlsctx_context_set_groups, METH_O, NULL},                 \
    {"get_groups", (PyCFunction)(void (*)(void))tlsctx_context_get_groups,                \
     METH_VARARGS | METH_KEYWORDS, NULL},                                                 \
    {"set_ciphersuites", (PyCFunction)tlsctx_context_set_ciphersuites, METH_O, NULL},     \
    {"set_client_sigalgs", (PyCFunction)tlsctx_context_set_client_sigalgs, METH_O, NULL}, \
    {"set_server_sigalgs", (PyCFunction)tlsctx_context_set_server_sigalgs, METH_O, NULL},

/* ---- memorybio.c ----------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    BIO *bio;
    int eof_written;
} tlsctx_memory_bio;

int tlsctx_setup_memory_bio_type(PyObject *module, tlsctx_state *state);

/* ---- session.c ------------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    SSL_SESSION *session;
    tlsctx_context *ctx;
} tlsctx_session;

int tlsctx_setup_session_type(PyObject *module, tlsctx_state *state);
/* A new SSLSession for `session` (stolen, freed on failure). */
PyObject *tlsctx_session_wrap(tlsctx_state *state, tlsctx_context *ctx, SSL_SESSION *session);

/* ---- connection.c ---------------------------------------------------- */
int tlsctx_setup_connection_type(PyObject *module, tlsctx_state *state);
/* _SSLContext._wrap_socket / _wrap_bio, implemented with the connection type. */
PyObject *tlsctx_context_wrap_socket(tlsctx_context *self, PyObject *args, PyObject *kwargs);
PyObject *tlsctx_context_wrap_bio(tlsctx_context *self, PyObject *args, PyObject *kwargs);
/* For callbacks running inside an OpenSSL call on a connection (GIL held):
 * the Python object user callbacks receive for `ssl` (the SSLSocket or
 * SSLObject owning it, else the connection itself); a new reference, or
 * NULL with an exception set, or NULL without one when that owner is gone
 * (then the user's callback must not run). */
PyObject *tlsctx_connection_for_callback(SSL *ssl);
/* Keep the exception currently set (raised by a user callback) on the
 * connection; it is re-raised when the OpenSSL call returns. Clears it. */
void tlsctx_connection_stash_exception(SSL *ssl);
/* The server's ALPN protocols `ssl` selects from, pinned by its connection
 * (a view of an immutable bytes object; *len 0 when none). No GIL needed. */
const unsigned char *tlsctx_connection_alpn(const SSL *ssl, unsigned int *len);

/* ---- certdecode.c ---------------------------------------------------- */
int tlsctx_setup_certdecode(PyObject *module, tlsctx_state *state);
/* The stdlib's dictionary for a certificate (getpeercert / get_ca_certs). */
PyObject *tlsctx_decode_certificate(tlsctx_state *state, X509 *cert);
PyObject *tlsctx_certificate_der(tlsctx_state *state, X509 *cert);

/* ---- certificate.c: Certificate objects, RAND_* ----------------------- */
int tlsctx_setup_certificate(PyObject *module, tlsctx_state *state);
/* A Certificate holding its own reference to `cert` */
PyObject *tlsctx_certificate_new(tlsctx_state *state, X509 *cert);
/* A list of Certificates, one per element of `chain` */
PyObject *tlsctx_certificate_list(tlsctx_state *state, STACK_OF(X509) *chain);

/* ---- trustcache.c ---------------------------------------------------- */
int tlsctx_setup_trust_cache(PyObject *module, tlsctx_state *state);
void tlsctx_trust_cache_free(tlsctx_trust_cache *cache);
int tlsctx_trust_init(tlsctx_context *self);
void tlsctx_trust_free(tlsctx_context *self);
/* load_verify_locations: parse everything first, then change the store;
 * 0, or -1 with an exception set and the context unchanged. */
int tlsctx_trust_load(tlsctx_context *self, PyObject *cafile, PyObject *capath,
                      const char *cadata, Py_ssize_t cadata_len, int cadata_pem);
int tlsctx_trust_set_default_paths(tlsctx_context *self);
/* verify_flags live in the (maybe shared) store: change them copy-on-write. */
int tlsctx_trust_set_verify_flags(tlsctx_context *self, unsigned long wanted);
/* With the GIL, when `ssl` starts on (or switches to) the context: `ssl`
 * verifies with, and completes its chain from, the context's present store
 * for as long as it lives, whatever the context loads later. */
int tlsctx_trust_pin(tlsctx_context *self, SSL *ssl);
/* Around each OpenSSL call on a connection (nested calls restore): which SSL
 * this thread works for, for verifications OpenSSL runs without naming it. */
SSL *tlsctx_trust_enter(SSL *ssl);
void tlsctx_trust_leave(SSL *previous);
/* get_ca_certs: the CA certificates of the context's store, in the order
 * the stdlib's store would list them; NULL with an exception on failure. */
STACK_OF(X509) *tlsctx_trust_ca_certs(tlsctx_context *self);
/* A context on a lazy store (issue 16) moves to the fully decoded stores the
 * stdlib's answers are read from; 0, or -1 with an exception. */
int tlsctx_trust_materialize(tlsctx_context *self);
/* At import: how this OpenSSL orders a store (see trustcache.c). */
int tlsctx_trust_probe_openssl(void);

#endif /* TLSCTX_H */
