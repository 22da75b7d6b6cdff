/* TLS connections over a socket or memory BIOs: the object behind
 * SSLSocket._sslobj / SSLObject._sslobj, with the stdlib _SSLSocket's
 * interface. MemoryBIO is in memorybio.c, SSLSession in session.c. */
#include "_tlsctx.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <time.h>

#include <openssl/comp.h>

/* ---- small compatibility helpers --------------------------------------- */

/* The raised exception as one object (normalised), and back. */
static PyObject *
fetch_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(value, tb);
        Py_DECREF(tb);
    }
    Py_DECREF(type);
    return value;
#endif
}

static void
restore_exception(PyObject *exc)  /* steals exc */
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *tb = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, tb);
#endif
}

/* The referent of a weak reference as a new reference; NULL without an
 * exception when it is gone. */
static PyObject *
weak_get(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *obj;
    if (PyWeakref_GetRef(ref, &obj) < 0) {
        return NULL;
    }
    return obj;
#else
    PyObject *obj = PyWeakref_GetObject(ref);
    if (obj == NULL || obj == Py_None) {
        return NULL;
    }
    return Py_NewRef(obj);
#endif
}

static double
monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- object layouts ------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    SSL *ssl;
    tlsctx_state *state;
    tlsctx_context *ctx;
    PyObject *sock_ref;        /* weak reference to the socket; NULL with BIOs */
    PyObject *owner_ref;       /* weak reference to the SSLSocket/SSLObject, or NULL */
    PyObject *server_hostname; /* str or NULL */
    PyObject *incoming;        /* the BIO objects, kept alive while the SSL uses them */
    PyObject *outgoing;
    tlsctx_lock lock;          /* exc and exc_is_bio */
    PyObject *exc;             /* raised by a callback during the current OpenSSL call */
    int exc_is_bio;            /* ... by a Python-level BIO: re-raised as it is */
    int server_side;
    int shutdown_seen_zero;
    int eof_error;             /* an SSLEOFError was raised: every later I/O call
                                * raises it again (CPython 3.14+, gh-148292) */
    void *python_in;           /* the python_bio_data of a Python-level incoming BIO */
    PyObject *deferred_exc;    /* met by read_more after bytes were read: raised next */
    void *python_out;          /* ... and outgoing BIO */
    PyObject *alpn;            /* the server's ALPN list (bytes) when this connection was
                                * made or switched context: set_alpn_protocols replaces
                                * the context's, never this one */
} tlsctx_connection;

/* ---- BIOs implemented by Python objects (e.g. the stdlib's ssl.MemoryBIO) --- */

typedef struct {
    PyObject *obj;             /* borrowed: the connection holds it */
    tlsctx_connection *conn;
    PyObject *surplus;         /* what read(n) returned past n bytes, served first */
    Py_ssize_t surplus_used;
    int copies_at_once;        /* the stdlib's ssl.MemoryBIO: its write() copies the
                                * data before returning, so a memoryview will do */
    char *pending_out;         /* written by OpenSSL during the current call, handed to
                                * write() in one piece when it returns (OPENSSL_malloc:
                                * filled without the GIL) */
    size_t pending_len, pending_cap;
    /* For the stdlib's MemoryBIO, what its `pending` said when the current
     * call began, less what was read since (-1: unknown), and its `eof` once
     * that is 0 (-1: unknown): a read that would find it empty answers
     * without taking the GIL. Nothing else writes to it during the call: it
     * is the caller's thread that feeds it. */
    Py_ssize_t budget;
    int drained_eof;
    int taken_in;              /* surplus holds what python_bio_begin took in */
} python_bio_data;

static Py_ssize_t
surplus_left(const python_bio_data *d)
{
    return d->surplus != NULL ? PyBytes_GET_SIZE(d->surplus) - d->surplus_used : 0;
}

/* GIL held: release a surplus that has been read to the end. */
static void
surplus_drop_used(python_bio_data *d)
{
    if (d->surplus != NULL && surplus_left(d) == 0) {
        Py_CLEAR(d->surplus);
        d->surplus_used = 0;
    }
}

static void
stash_on(tlsctx_connection *conn, int from_bio)
{
    PyObject *exc = fetch_exception();
    if (exc == NULL) {
        return;
    }
    tlsctx_lock_acquire(&conn->lock);
    PyObject *older = conn->exc;
    conn->exc = exc;
    conn->exc_is_bio = from_bio;
    tlsctx_lock_release(&conn->lock);
    if (older != NULL) {
        PyException_SetContext(exc, older);  /* steals the older one */
    }
}

/* The BIO methods below run inside OpenSSL calls made without the GIL:
 * each takes it back (tlsctx_callback_enter) only around its Python code.
 * Writes need none: they are kept and handed to the object's write() once
 * the call returns (python_bio_flush), so a handshake flight or a long
 * write() costs one Python call, not one per TLS record. */
static int
python_bio_write(BIO *bio, const char *data, int len)
{
    python_bio_data *d = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (len <= 0) {
        return 0;
    }
    if (d->pending_cap - d->pending_len < (size_t)len) {
        size_t cap = d->pending_cap ? d->pending_cap : 16384;
        while (cap - d->pending_len < (size_t)len) {
            cap *= 2;
        }
        char *grown = OPENSSL_realloc(d->pending_out, cap);
        if (grown == NULL) {
            return -1;
        }
        d->pending_out = grown;
        d->pending_cap = cap;
    }
    memcpy(d->pending_out + d->pending_len, data, (size_t)len);
    d->pending_len += (size_t)len;
    return len;
}

static int
python_bio_eof(python_bio_data *d)
{
    PyObject *eof = PyObject_GetAttr(d->obj, d->conn->state->str_eof);
    if (eof == NULL) {
        return -1;
    }
    int rc = PyObject_IsTrue(eof);
    Py_DECREF(eof);
    return rc;
}

/* Before an OpenSSL call, GIL held: how much the stdlib's MemoryBIO holds
 * (python_bio_data.budget). During a handshake, whose flights are small,
 * everything it holds is taken in now, so that OpenSSL reads it without
 * coming back for the GIL; python_bio_end gives back what it left. A
 * failure only leaves the count unknown. */
static void
python_bio_begin(python_bio_data *d, int handshake)
{
    if (d == NULL || !d->copies_at_once) {
        return;
    }
    d->budget = -1;
    d->drained_eof = -1;
    d->taken_in = 0;
    PyObject *pending = PyObject_GetAttr(d->obj, d->conn->state->str_pending);
    Py_ssize_t n = pending != NULL ? PyLong_AsSsize_t(pending) : -1;
    Py_XDECREF(pending);
    if (n < 0) {
        PyErr_Clear();
        return;
    }
    surplus_drop_used(d);
    if (n > 0 && handshake && d->surplus == NULL) {
        PyObject *all = PyObject_CallMethodNoArgs(d->obj, d->conn->state->str_read);
        if (all == NULL || !PyBytes_Check(all)) {
            Py_XDECREF(all);
            PyErr_Clear();
            return;
        }
        d->surplus = all;
        d->surplus_used = 0;
        d->taken_in = 1;
        n = 0;
    }
    if (n == 0) {
        int eof = python_bio_eof(d);
        if (eof < 0) {
            PyErr_Clear();
            return;
        }
        d->drained_eof = eof;
    }
    d->budget = n;
}

/* After the call, GIL held: the count no longer holds, and what was taken
 * in and not read goes back, so that the object's `pending` (asyncio's
 * flow control) and content are what OpenSSL left, as with its own BIO. */
static void
python_bio_end(python_bio_data *d)
{
    if (d == NULL) {
        return;
    }
    d->budget = -1;
    d->drained_eof = -1;
    if (!d->taken_in) {
        surplus_drop_used(d);
        return;
    }
    d->taken_in = 0;
    Py_ssize_t left = surplus_left(d);
    if (left == 0) {
        surplus_drop_used(d);
        return;
    }
    /* the object was emptied, so appending restores the same bytes */
    PyObject *view = PyMemoryView_FromMemory(PyBytes_AS_STRING(d->surplus) + d->surplus_used,
                                             left, PyBUF_READ);
    PyObject *r = view != NULL ? PyObject_CallMethodOneArg(d->obj, d->conn->state->str_write, view)
                               : NULL;
    Py_XDECREF(view);
    if (r == NULL) {
        PyErr_Clear();   /* (after write_eof()): kept here, read next */
        return;
    }
    Py_DECREF(r);
    Py_CLEAR(d->surplus);
    d->surplus_used = 0;
}

/* Hand what OpenSSL wrote during the call to the object's write(); GIL
 * held. An exception is kept on the connection (raised as the BIO's). */
static void
python_bio_flush(python_bio_data *d)
{
    if (d == NULL || d->pending_len == 0) {
        return;
    }
    PyObject *r, *arg;
    if (d->copies_at_once) {
        /* no bytes object (allocation and copy) for the stdlib's MemoryBIO */
        arg = PyMemoryView_FromMemory(d->pending_out, (Py_ssize_t)d->pending_len, PyBUF_READ);
    }
    else {
        arg = PyBytes_FromStringAndSize(d->pending_out, (Py_ssize_t)d->pending_len);
    }
    r = arg != NULL ? PyObject_CallMethodOneArg(d->obj, d->conn->state->str_write, arg) : NULL;
    d->pending_len = 0;
    if (d->pending_cap > 1 << 20) {
        /* a long write: give the memory back */
        OPENSSL_free(d->pending_out);
        d->pending_out = NULL;
        d->pending_cap = 0;
    }
    if (r == NULL) {
        stash_on(d->conn, 1);
    }
    Py_XDECREF(r);
    Py_XDECREF(arg);
}

/* OpenSSL reads a TLS record in two steps, its 5-byte header, then the
 * body whose length the header gives. When it has just read a header, the
 * body (what it will ask for next) is read in the same visit to Python and
 * kept as surplus: one GIL round trip per record instead of two. Only that
 * many bytes, never past the record, so the object keeps what OpenSSL has
 * not asked for (asyncio sizes its buffers by its `pending`). */
#define TLS_HEADER 5
#define TLS_MAX_BODY (16384 + 2048)

static int
prefetch_record_body(python_bio_data *d, const unsigned char *header)
{
    if (header[0] & 0x80) {
        return 0;   /* an SSLv2-format hello: not a TLS record header */
    }
    long body = ((long)header[3] << 8) | header[4];
    if (body == 0 || body > TLS_MAX_BODY) {
        return 0;   /* OpenSSL rejects it itself */
    }
    PyObject *size = PyLong_FromLong(body);
    PyObject *data = size != NULL
                         ? PyObject_CallMethodOneArg(d->obj, d->conn->state->str_read, size)
                         : NULL;
    Py_XDECREF(size);
    if (data != NULL && d->budget > 0 && PyBytes_Check(data)) {
        d->budget -= PyBytes_GET_SIZE(data) < d->budget ? PyBytes_GET_SIZE(data) : d->budget;
    }
    if (data == NULL) {
        stash_on(d->conn, 1);
        return -1;
    }
    if (!PyBytes_Check(data)) {
        /* another bytes-like type: as bytes, the surplus's type */
        Py_SETREF(data, PyBytes_FromObject(data));
        if (data == NULL) {
            stash_on(d->conn, 1);
            return -1;
        }
    }
    if (PyBytes_GET_SIZE(data) > 0) {
        d->surplus = data;
        d->surplus_used = 0;
    }
    else {
        Py_DECREF(data);
    }
    return 0;
}

/* Bytes from the object's read(len), GIL held. More than asked for is kept
 * and handed out by the next reads, never dropped. */
static int
python_bio_read_held(BIO *bio, python_bio_data *d, char *out, int len)
{
    Py_buffer view;
    surplus_drop_used(d);
    PyObject *size = PyLong_FromLong(len);
    PyObject *data = size != NULL
                         ? PyObject_CallMethodOneArg(d->obj, d->conn->state->str_read, size)
                         : NULL;
    Py_XDECREF(size);
    if (data == NULL || PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(data);
        stash_on(d->conn, 1);
        return -1;
    }
    Py_ssize_t n = view.len < len ? view.len : len;
    memcpy(out, view.buf, (size_t)n);
    if (d->budget > 0) {
        d->budget -= view.len < d->budget ? view.len : d->budget;
    }
    if (view.len > n) {
        d->surplus = PyBytes_FromStringAndSize((const char *)view.buf + n, view.len - n);
        if (d->surplus == NULL) {
            PyBuffer_Release(&view);
            Py_DECREF(data);
            stash_on(d->conn, 1);
            return -1;
        }
        d->surplus_used = 0;
    }
    PyBuffer_Release(&view);
    Py_DECREF(data);
    if (n == TLS_HEADER && len == TLS_HEADER && d->surplus == NULL
        && prefetch_record_body(d, (const unsigned char *)out) < 0) {
        return -1;
    }
    if (n > 0) {
        return (int)n;
    }
    int eof = python_bio_eof(d);
    if (eof < 0) {
        stash_on(d->conn, 1);
        return -1;
    }
    if (eof) {
        return 0;
    }
    BIO_set_retry_read(bio);   /* empty but open, like a memory BIO */
    return -1;
}

static int
python_bio_read(BIO *bio, char *out, int len)
{
    python_bio_data *d = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    Py_ssize_t left = surplus_left(d);
    if (left > 0) {
        /* an immutable bytes object of our own: no GIL needed to copy from
         * it (it is released, once used up, with the GIL held) */
        Py_ssize_t n = left < len ? left : len;
        memcpy(out, PyBytes_AS_STRING(d->surplus) + d->surplus_used, (size_t)n);
        d->surplus_used += n;
        return (int)n;
    }
    if (d->budget == 0 && d->drained_eof >= 0 && surplus_left(d) == 0) {
        /* known to be empty: what read() and eof would say, without Python */
        if (d->drained_eof) {
            return 0;
        }
        BIO_set_retry_read(bio);
        return -1;
    }
    tlsctx_call_frame *gil = tlsctx_callback_enter();
    int n = python_bio_read_held(bio, d, out, len);
    tlsctx_callback_leave(gil);
    return n;
}

static long
python_bio_ctrl_held(python_bio_data *d, int cmd)
{
    switch (cmd) {
    case BIO_CTRL_PENDING: {
        PyObject *pending = PyObject_GetAttr(d->obj, d->conn->state->str_pending);
        long n = pending ? PyLong_AsLong(pending) : -1;
        Py_XDECREF(pending);
        if (n < 0 && PyErr_Occurred()) {
            stash_on(d->conn, 1);
            return 0;
        }
        return n + (long)surplus_left(d);
    }
    case BIO_CTRL_EOF: {
        if (surplus_left(d) > 0) {
            return 0;
        }
        int eof = python_bio_eof(d);
        if (eof < 0) {
            stash_on(d->conn, 1);
            return 1;
        }
        return eof;
    }
    }
    return 0;
}

static long
python_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    if (cmd == BIO_CTRL_FLUSH) {
        return 1;   /* python_bio_flush runs when the call returns */
    }
    if (cmd == BIO_CTRL_WPENDING) {
        python_bio_data *d = BIO_get_data(bio);
        return (long)d->pending_len;
    }
    if (cmd != BIO_CTRL_PENDING && cmd != BIO_CTRL_EOF) {
        return 0;
    }
    tlsctx_call_frame *gil = tlsctx_callback_enter();
    long rc = python_bio_ctrl_held(BIO_get_data(bio), cmd);
    tlsctx_callback_leave(gil);
    return rc;
}

static int
python_bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

/* from SSL_free, with the GIL held */
static int
python_bio_destroy(BIO *bio)
{
    python_bio_data *d = BIO_get_data(bio);
    if (d != NULL) {
        Py_CLEAR(d->surplus);
        OPENSSL_free(d->pending_out);
    }
    OPENSSL_free(d);
    BIO_set_data(bio, NULL);
    return 1;
}

/* One method table for the process: an OpenSSL object, not a Python one. */
static CRYPTO_ONCE python_bio_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *python_bio_method;

static void
python_bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tlsctx Python BIO");
    if (m == NULL) {
        return;
    }
    if (!BIO_meth_set_write(m, python_bio_write) || !BIO_meth_set_read(m, python_bio_read)
        || !BIO_meth_set_ctrl(m, python_bio_ctrl) || !BIO_meth_set_create(m, python_bio_create)
        || !BIO_meth_set_destroy(m, python_bio_destroy)) {
        BIO_meth_free(m);
        return;
    }
    python_bio_method = m;
}

/* A BIO for `obj`, new; NULL with an exception set. *python is set to the
 * python_bio_data of a BIO driven through the object's Python methods, to
 * NULL for tlsctx's MemoryBIO, whose OpenSSL BIO is used directly. (The
 * stdlib's ssl.MemoryBIO, asyncio's, goes through its Python methods: its
 * BIO is private to the _ssl module.) */
static BIO *
bio_for(tlsctx_connection *conn, PyObject *obj, python_bio_data **python)
{
    tlsctx_state *state = conn->state;
    *python = NULL;
    if (Py_IS_TYPE(obj, state->memory_bio_type)) {
        BIO *bio = ((tlsctx_memory_bio *)obj)->bio;
        if (!BIO_up_ref(bio)) {
            tlsctx_set_ssl_error(state, NULL);
            return NULL;
        }
        return bio;
    }
    if (!CRYPTO_THREAD_run_once(&python_bio_once, python_bio_method_init)
        || python_bio_method == NULL) {
        tlsctx_set_ssl_error(state, NULL);
        return NULL;
    }
    python_bio_data *d = OPENSSL_zalloc(sizeof(*d));
    BIO *bio = d ? BIO_new(python_bio_method) : NULL;
    if (bio == NULL) {
        OPENSSL_free(d);
        tlsctx_set_ssl_error(state, NULL);
        return NULL;
    }
    d->obj = obj;
    d->conn = conn;
    d->copies_at_once = strcmp(Py_TYPE(obj)->tp_name, "_ssl.MemoryBIO") == 0;
    d->budget = -1;
    d->drained_eof = -1;
    BIO_set_data(bio, d);
    *python = d;
    return bio;
}

static int
is_bio_like(PyObject *obj)
{
    static const char *names[] = {"read", "write", "pending", "eof"};
    for (size_t i = 0; i < Py_ARRAY_LENGTH(names); i++) {
        int has = PyObject_HasAttrString(obj, names[i]);
        if (!has) {
            return 0;
        }
    }
    return 1;
}

/* ---- running one OpenSSL call -------------------------------------------- */

enum io_op { OP_HANDSHAKE, OP_READ, OP_WRITE, OP_SHUTDOWN, OP_SENDFILE };

/* OP_SENDFILE's arguments besides the size */
typedef struct {
    int fd;
    off_t offset;
    int flags;
} sendfile_args;

typedef struct {
    int ret;
    int failed;
    int ssl_error;
    int saved_errno;
    size_t count;
} io_result;

static void
ssl_call(tlsctx_connection *self, enum io_op op, void *buf, size_t len, io_result *r)
{
    /* without the GIL, BIOs written in Python included: every callback
     * takes it back for its own Python code (threading.c) */
    tlsctx_call_frame frame;
    python_bio_begin(self->python_in, op == OP_HANDSHAKE);
    tlsctx_release_gil(&frame, self);
    SSL *ssl = self->ssl;
    SSL *outer = tlsctx_trust_enter(ssl);
    r->count = 0;
    /* a stale error would turn this call's SSL_get_error() into
     * SSL_ERROR_SSL; the queue is almost always empty, and looking is much
     * cheaper than clearing its sixteen slots */
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
    errno = 0;
    switch (op) {
    case OP_HANDSHAKE:
        r->ret = SSL_do_handshake(ssl);
        r->failed = r->ret < 1;
        break;
    case OP_READ:
        r->ret = SSL_read_ex(ssl, buf, len, &r->count);
        r->failed = r->ret == 0;
        break;
    case OP_WRITE:
        r->ret = SSL_write_ex(ssl, buf, len, &r->count);
        r->failed = r->ret == 0;
        break;
    case OP_SENDFILE: {
        const sendfile_args *a = buf;
        ossl_ssize_t sent = SSL_sendfile(ssl, a->fd, a->offset, len, a->flags);
        r->failed = sent < 0;
        r->ret = r->failed ? -1 : 1;
        r->count = r->failed ? 0 : (size_t)sent;
        break;
    }
    case OP_SHUTDOWN:
        /* no read-ahead once the peer's close_notify is awaited, so that
         * cleartext following the shutdown stays in the socket (unwrap) */
        if (self->shutdown_seen_zero) {
            SSL_set_read_ahead(ssl, 0);
        }
        r->ret = SSL_shutdown(ssl);
        r->failed = r->ret < 0;
        break;
    }
    r->saved_errno = r->failed ? errno : 0;
    r->ssl_error = r->failed ? SSL_get_error(ssl, r->ret) : SSL_ERROR_NONE;
    tlsctx_trust_leave(outer);
    tlsctx_restore_gil(&frame);
    python_bio_end(self->python_in);
    python_bio_flush(self->python_out);
}

/* After an OpenSSL call: an exception a callback stashed wins over a
 * plain failure; otherwise it becomes the context of the raised one.
 * Returns -1 when an exception is set afterwards. */
static int
raise_stashed(tlsctx_connection *self)
{
    tlsctx_lock_acquire(&self->lock);
    PyObject *stashed = self->exc;
    int from_bio = self->exc_is_bio;
    self->exc = NULL;
    tlsctx_lock_release(&self->lock);
    if (stashed == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (from_bio || !PyErr_Occurred()) {
        PyErr_Clear();
        restore_exception(stashed);
        return -1;
    }
    PyObject *current = fetch_exception();
    PyException_SetContext(current, stashed);
    restore_exception(current);
    return -1;
}

static PyObject *
raise_failure(tlsctx_connection *self, const io_result *r)
{
    tlsctx_lock_acquire(&self->lock);
    int bio_failed = self->exc != NULL && self->exc_is_bio;
    tlsctx_lock_release(&self->lock);
    if (bio_failed) {
        ERR_clear_error();
        raise_stashed(self);
        return NULL;
    }
    tlsctx_raise_connection_error(self->state, self->ssl, r->ssl_error, r->saved_errno,
                                  self->server_hostname, __FILE__, __LINE__);
    if (PyErr_ExceptionMatches(self->state->SSLEOFError)) {
        self->eof_error = 1;
    }
    raise_stashed(self);
    return NULL;
}

/* After an SSLEOFError the connection is over: CPython 3.14+ answer every
 * later handshake, read, write and sendfile with the same error, whatever
 * the OpenSSL version would say on its own. */
static int
eof_remembered(tlsctx_connection *self)
{
    if (!self->eof_error) {
        return 0;
    }
    tlsctx_raise_ssl_error_code(self->state, self->state->SSLEOFError, TLSCTX_SSL_ERROR_EOF, 0,
                                "EOF occurred in violation of protocol", __FILE__, __LINE__);
    return -1;
}

/* Waiting on the socket between retries, as the stdlib's select step. */
/* Timeouts and closed sockets say where they were raised, as the stdlib's do. */
#define WHERE(msg) "connection.c:" Py_STRINGIFY(__LINE__) ": " msg

enum sock_state { SOCK_OK, SOCK_NONBLOCKING, SOCK_BLOCKING, SOCK_TIMED_OUT, SOCK_CLOSED };

typedef struct {
    PyObject *sock;     /* new reference, NULL with BIOs */
    double timeout;     /* the socket's: < 0 blocking, 0 non-blocking */
    double deadline;
} io_ctx;

static PyObject *
socket_gone(tlsctx_state *state)
{
    return tlsctx_raise_ssl_error_code(state, NULL, TLSCTX_SSL_ERROR_NO_SOCKET, 0,
                                       "Underlying socket connection gone", __FILE__, __LINE__);
}

/* A callback or BIO method of this connection calling back into it (an SNI
 * callback calling do_handshake(), a BIO's read() reading the connection):
 * OpenSSL is in the middle of a call on this SSL, which must not start
 * another. */
static int
refuse_reentry(tlsctx_connection *self)
{
    if (tlsctx_in_call(self)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "re-entrant call: this TLS connection is inside an OpenSSL call "
                        "(from one of its callbacks or BIO methods)");
        return -1;
    }
    return 0;
}

static int
io_begin(tlsctx_connection *self, io_ctx *io)
{
    io->sock = NULL;
    io->timeout = 0.0;   /* memory BIOs behave as non-blocking */
    io->deadline = 0.0;
    if (refuse_reentry(self) < 0) {
        return -1;
    }
    if (self->deferred_exc != NULL) {
        PyObject *exc = self->deferred_exc;
        self->deferred_exc = NULL;
        restore_exception(exc);
        return -1;
    }
    if (self->sock_ref == NULL) {
        return 0;
    }
    io->sock = weak_get(self->sock_ref);
    if (io->sock == NULL) {
        if (!PyErr_Occurred()) {
            socket_gone(self->state);
        }
        return -1;
    }
    PyObject *t = PyObject_CallMethod(io->sock, "gettimeout", NULL);
    if (t == NULL) {
        Py_CLEAR(io->sock);
        return -1;
    }
    io->timeout = (t == Py_None) ? -1.0 : PyFloat_AsDouble(t);
    Py_DECREF(t);
    if (io->timeout == -1.0 && PyErr_Occurred()) {
        Py_CLEAR(io->sock);
        return -1;
    }
    /* the socket's blocking mode may have changed since the last call */
    long nonblocking = io->timeout >= 0;
    BIO_set_nbio(SSL_get_rbio(self->ssl), nonblocking);
    BIO_set_nbio(SSL_get_wbio(self->ssl), nonblocking);
    if (io->timeout > 0) {
        io->deadline = monotonic_now() + io->timeout;
    }
    return 0;
}

/* -1 with an exception, or a sock_state */
static int
io_wait(io_ctx *io, int writing)
{
    if (io->sock == NULL || io->timeout == 0) {
        return SOCK_NONBLOCKING;
    }
    if (io->timeout < 0) {
        return SOCK_BLOCKING;
    }
    double remaining = io->deadline - monotonic_now();
    if (remaining <= 0) {
        return SOCK_TIMED_OUT;
    }
    PyObject *fd_obj = PyObject_CallMethod(io->sock, "fileno", NULL);
    if (fd_obj == NULL) {
        return -1;
    }
    long fd = PyLong_AsLong(fd_obj);
    Py_DECREF(fd_obj);
    if (fd == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (fd < 0) {
        return SOCK_CLOSED;
    }
    struct pollfd p = {.fd = (int)fd, .events = writing ? POLLOUT : POLLIN};
    int ms = (int)ceil(remaining * 1000.0);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = poll(&p, 1, ms);
    Py_END_ALLOW_THREADS
    /* an interrupted poll retries the TLS call, which re-checks signals */
    return rc == 0 ? SOCK_TIMED_OUT : SOCK_OK;
}

/* Before a write (or sendfile): wait until the socket takes data, as the
 * stdlib does; -1 with its timeout or closed-socket error. */
static int
wait_writable(tlsctx_connection *self, io_ctx *io)
{
    int st = io_wait(io, 1);
    if (st == SOCK_TIMED_OUT) {
        PyErr_SetString(PyExc_TimeoutError, WHERE("The write operation timed out"));
        return -1;
    }
    if (st == SOCK_CLOSED) {
        PyErr_SetString(self->state->SSLError, WHERE("Underlying socket has been closed."));
        return -1;
    }
    return st < 0 ? -1 : 0;
}

/* the next wait for a retryable failure, SOCK_OK for anything else */
static int
io_wait_for(io_ctx *io, const io_result *r)
{
    if (r->ssl_error == SSL_ERROR_WANT_READ) {
        return io_wait(io, 0);
    }
    if (r->ssl_error == SSL_ERROR_WANT_WRITE) {
        return io_wait(io, 1);
    }
    return SOCK_OK;
}

static int
retryable(const io_result *r)
{
    return r->ssl_error == SSL_ERROR_WANT_READ || r->ssl_error == SSL_ERROR_WANT_WRITE;
}

/* The handshake and write loop: call `op` again after each wait until it
 * completes or fails (result in *r, 0 returned), or stop with -1 and an
 * exception on a timeout, a closed socket or a signal handler's error.  A
 * non-blocking socket returns at once with the WANT_* result. */
static int
run_until_settled(tlsctx_connection *self, io_ctx *io, enum io_op op, void *buf, size_t len,
                  io_result *r, const char *timeout_message)
{
    do {
        ssl_call(self, op, buf, len, r);
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
        int st = io_wait_for(io, r);
        if (st < 0) {
            return -1;
        }
        if (st == SOCK_TIMED_OUT) {
            PyErr_SetString(PyExc_TimeoutError, timeout_message);
            return -1;
        }
        if (st == SOCK_CLOSED) {
            PyErr_SetString(self->state->SSLError, WHERE("Underlying socket has been closed."));
            return -1;
        }
        if (st == SOCK_NONBLOCKING) {
            break;
        }
    } while (retryable(r));
    return 0;
}

/* ---- the connection type ---------------------------------------------------- */

static PyObject *
conn_do_handshake(tlsctx_connection *self, PyObject *unused)
{
    io_ctx io;
    io_result r;
    if (io_begin(self, &io) < 0) {
        return NULL;
    }
    if (eof_remembered(self) < 0) {
        goto error;
    }
    if (run_until_settled(self, &io, OP_HANDSHAKE, NULL, 0, &r,
                          WHERE("The handshake operation timed out")) < 0) {
        goto error;
    }
    Py_CLEAR(io.sock);
    if (r.failed) {
        return raise_failure(self, &r);
    }
    if (raise_stashed(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
error:
    Py_XDECREF(io.sock);
    raise_stashed(self);
    return NULL;
}

/* Whether the Python-level incoming BIO has bytes OpenSSL has not read. */
static int
python_input_left(tlsctx_connection *self)
{
    python_bio_data *d = self->python_in;
    if (surplus_left(d) > 0) {
        return 1;
    }
    PyObject *pending = PyObject_GetAttr(d->obj, self->state->str_pending);
    Py_ssize_t n = pending != NULL ? PyLong_AsSsize_t(pending) : -1;
    Py_XDECREF(pending);
    if (n < 0) {
        PyErr_Clear();
        return 0;
    }
    return n > 0;
}

/* A read over a Python-level BIO (asyncio's) that got one record's worth
 * while more is waiting goes on filling the caller's buffer, as a socket's
 * recv() would: one Python-level read() per chunk instead of one per TLS
 * record. It stops at the first call that would not simply succeed; an
 * error met there is kept (deferred_exc) and raised by the next call on the
 * connection, so the bytes already read are returned first. */
static void
read_more(tlsctx_connection *self, char *mem, size_t len, io_result *r)
{
    if (self->python_in == NULL) {
        return;
    }
    while (r->count < len && (SSL_pending(self->ssl) > 0 || python_input_left(self))) {
        io_result more;
        ssl_call(self, OP_READ, mem + r->count, len - r->count, &more);
        if (!more.failed) {
            r->count += more.count;
            if (self->exc == NULL) {
                continue;
            }
            raise_stashed(self);
        }
        else if (retryable(&more)
                 || (more.ssl_error == SSL_ERROR_ZERO_RETURN && self->exc == NULL)) {
            /* nothing more for now, or the peer's close_notify: the next
             * read says so */
            ERR_clear_error();
            break;
        }
        else {
            raise_failure(self, &more);
        }
        self->deferred_exc = fetch_exception();
        break;
    }
}

static PyObject *
conn_read(tlsctx_connection *self, PyObject *args)
{
    Py_ssize_t len;
    Py_buffer buffer = {0};
    PyObject *dest = NULL;
    io_ctx io = {0};
    io_result r = {0};
    int st;
    char *mem;

    if (!PyArg_ParseTuple(args, "n|w*:read", &len, &buffer)) {
        return NULL;
    }
    int into = buffer.obj != NULL;
    if (into) {
        if (len <= 0 || len > buffer.len) {
            len = buffer.len;
        }
        mem = buffer.buf;
    }
    else {
        if (len < 0) {
            PyErr_SetString(PyExc_ValueError, "size should not be negative");
            return NULL;
        }
        /* One call hands out one TLS record's plaintext at most (except
         * read_more's, over Python-level BIOs): a bytes object of that size
         * is filled to the end by a full record, where a larger one would
         * be copied into a smaller one after every read (asyncio reads
         * 256 KiB at a time). */
        if (len > SSL3_RT_MAX_PLAIN_LENGTH && self->python_in == NULL) {
            len = SSL3_RT_MAX_PLAIN_LENGTH;
        }
        dest = PyBytes_FromStringAndSize(NULL, len);
        if (dest == NULL) {
            return NULL;
        }
        mem = PyBytes_AS_STRING(dest);
    }
    if (len == 0) {
        goto done;
    }
    if (io_begin(self, &io) < 0 || eof_remembered(self) < 0) {
        goto error;
    }
    do {
        ssl_call(self, OP_READ, mem, (size_t)len, &r);
        if (PyErr_CheckSignals() < 0) {
            goto error;
        }
        if (r.ssl_error == SSL_ERROR_ZERO_RETURN
            && SSL_get_shutdown(self->ssl) == SSL_RECEIVED_SHUTDOWN) {
            /* the peer closed cleanly: end of stream, unless a callback
             * raised during this very call */
            r.count = 0;
            ERR_clear_error();
            if (raise_stashed(self) < 0) {
                goto error;
            }
            goto done;
        }
        st = io_wait_for(&io, &r);
        if (st < 0) {
            goto error;
        }
        if (st == SOCK_TIMED_OUT) {
            PyErr_SetString(PyExc_TimeoutError, WHERE("The read operation timed out"));
            goto error;
        }
        if (st == SOCK_NONBLOCKING) {
            break;
        }
    } while (retryable(&r));
    if (r.failed) {
        raise_failure(self, &r);
        goto error;
    }
    if (raise_stashed(self) < 0) {
        goto error;
    }
    read_more(self, mem, (size_t)len, &r);
done:
    Py_XDECREF(io.sock);
    if (into) {
        PyBuffer_Release(&buffer);
        return PyLong_FromSize_t(r.count);
    }
    if ((Py_ssize_t)r.count != len) {
        /* a short read: hand back just what arrived */
        Py_SETREF(dest, PyBytes_FromStringAndSize(mem, (Py_ssize_t)r.count));
    }
    return dest;
error:
    raise_stashed(self);
    Py_XDECREF(io.sock);
    Py_XDECREF(dest);
    if (into) {
        PyBuffer_Release(&buffer);
    }
    return NULL;
}

static PyObject *
conn_write(tlsctx_connection *self, PyObject *arg)
{
    Py_buffer b;
    io_ctx io = {0};
    io_result r = {0};
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (io_begin(self, &io) < 0 || eof_remembered(self) < 0) {
        goto error;
    }
    if (wait_writable(self, &io) < 0) {
        goto error;
    }
    if (run_until_settled(self, &io, OP_WRITE, b.buf, (size_t)b.len, &r,
                          WHERE("The write operation timed out")) < 0) {
        goto error;
    }
    Py_CLEAR(io.sock);
    PyBuffer_Release(&b);
    if (r.failed) {
        return raise_failure(self, &r);
    }
    if (raise_stashed(self) < 0) {
        return NULL;
    }
    return PyLong_FromSize_t(r.count);
error:
    raise_stashed(self);
    Py_XDECREF(io.sock);
    PyBuffer_Release(&b);
    return NULL;
}

/* CPython 3.15's sendfile(fd, offset, size, flags=0, /): SSL_sendfile,
 * which only works once kernel TLS carries the connection's writes. */

static int
sendfile_int(PyObject *obj, int *out)
{
    PyObject *n = PyNumber_Index(obj);
    if (n == NULL) {
        return -1;
    }
    int overflow;
    long v = PyLong_AsLongAndOverflow(n, &overflow);
    Py_DECREF(n);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || v > INT_MAX || v < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int
sendfile_args_parse(PyObject *args, sendfile_args *a, size_t *size)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 3 || n > 4) {
        PyErr_Format(PyExc_TypeError, "sendfile expected at %s, got %zd",
                     n < 3 ? "least 3 arguments" : "most 4 arguments", n);
        return -1;
    }
    if (sendfile_int(PyTuple_GET_ITEM(args, 0), &a->fd) < 0) {
        return -1;
    }
    PyObject *offset = PyNumber_Index(PyTuple_GET_ITEM(args, 1));
    if (offset == NULL) {
        return -1;
    }
    int overflow;
    long long off = PyLong_AsLongLongAndOverflow(offset, &overflow);
    Py_DECREF(offset);
    if (off == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || (off_t)off != off) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C long");
        return -1;
    }
    a->offset = (off_t)off;
    PyObject *count = PyNumber_Index(PyTuple_GET_ITEM(args, 2));
    if (count == NULL) {
        return -1;
    }
    long long wanted = PyLong_AsLongLongAndOverflow(count, &overflow);
    if (wanted == -1 && PyErr_Occurred()) {
        Py_DECREF(count);
        return -1;
    }
    if (overflow < 0 || (overflow == 0 && wanted < 0)) {
        Py_DECREF(count);
        PyErr_SetString(PyExc_ValueError, "Cannot convert negative int");
        return -1;
    }
    *size = overflow ? PyLong_AsSize_t(count) : (size_t)wanted;
    Py_DECREF(count);
    if (*size == (size_t)-1 && PyErr_Occurred()) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large for C size_t");
        return -1;
    }
    a->flags = 0;
    return n == 4 ? sendfile_int(PyTuple_GET_ITEM(args, 3), &a->flags) : 0;
}

static PyObject *
conn_sendfile(tlsctx_connection *self, PyObject *args)
{
    sendfile_args a;
    size_t size;
    io_ctx io = {0};
    io_result r = {0};
    if (sendfile_args_parse(args, &a, &size) < 0) {
        return NULL;
    }
    if (io_begin(self, &io) < 0 || eof_remembered(self) < 0) {
        goto error;
    }
    if (wait_writable(self, &io) < 0) {
        goto error;
    }
    if (run_until_settled(self, &io, OP_SENDFILE, &a, size, &r,
                          WHERE("The sendfile operation timed out")) < 0) {
        goto error;
    }
    Py_CLEAR(io.sock);
    if (r.failed && r.ssl_error == SSL_ERROR_SSL
        && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNINITIALIZED) {
        /* no kernel TLS under this connection: the stdlib's words for it */
        ERR_clear_error();
        tlsctx_raise_ssl_error_code(self->state, self->state->SSLError, 0, 0,
                                    "Some I/O error occurred in sendfile()", __FILE__, __LINE__);
        raise_stashed(self);
        return NULL;
    }
    if (r.failed) {
        return raise_failure(self, &r);
    }
    if (raise_stashed(self) < 0) {
        return NULL;
    }
    return PyLong_FromSize_t(r.count);
error:
    raise_stashed(self);
    Py_XDECREF(io.sock);
    return NULL;
}

/* CPython 3.15: whether kernel TLS carries the connection's writes / reads */
static PyObject *
conn_uses_ktls_for_send(tlsctx_connection *self, PyObject *unused)
{
    return PyBool_FromLong(BIO_get_ktls_send(SSL_get_wbio(self->ssl)) ? 1 : 0);
}

static PyObject *
conn_uses_ktls_for_recv(tlsctx_connection *self, PyObject *unused)
{
    return PyBool_FromLong(BIO_get_ktls_recv(SSL_get_rbio(self->ssl)) ? 1 : 0);
}

static PyObject *
conn_pending(tlsctx_connection *self, PyObject *unused)
{
    int count = SSL_pending(self->ssl);
    if (count < 0) {
        return tlsctx_set_ssl_error(self->state, NULL);
    }
    return PyLong_FromLong(count);
}

static PyObject *
conn_shutdown(tlsctx_connection *self, PyObject *unused)
{
    io_ctx io = {0};
    io_result r = {0};
    int zeros = 0, st;

    if (io_begin(self, &io) < 0) {
        return NULL;
    }
    if (io.sock != NULL) {
        PyObject *fd = PyObject_CallMethod(io.sock, "fileno", NULL);
        long fdv = fd ? PyLong_AsLong(fd) : -1;
        Py_XDECREF(fd);
        if (fdv == -1 && PyErr_Occurred()) {
            goto error;
        }
        if (fdv < 0) {
            socket_gone(self->state);
            goto error;
        }
    }
    for (;;) {
        ssl_call(self, OP_SHUTDOWN, NULL, 0, &r);
        if (r.ret > 0) {
            break;   /* both close_notify alerts exchanged */
        }
        if (r.ret == 0) {
            /* ours is sent; try once more to receive the peer's */
            if (++zeros > 1) {
                break;
            }
            self->shutdown_seen_zero = 1;
            continue;
        }
        if (r.ssl_error == SSL_ERROR_WANT_READ) {
            st = io_wait(&io, 0);
        }
        else if (r.ssl_error == SSL_ERROR_WANT_WRITE) {
            st = io_wait(&io, 1);
        }
        else {
            break;
        }
        if (st < 0) {
            goto error;
        }
        if (st == SOCK_TIMED_OUT) {
            PyErr_SetString(PyExc_TimeoutError, r.ssl_error == SSL_ERROR_WANT_READ
                                                    ? WHERE("The read operation timed out")
                                                    : WHERE("The write operation timed out"));
            goto error;
        }
        if (st != SOCK_OK) {
            break;   /* keep the SSL error for the caller */
        }
    }
    if (r.ret < 0) {
        Py_XDECREF(io.sock);
        return raise_failure(self, &r);
    }
    if (raise_stashed(self) < 0) {
        goto error;
    }
    return io.sock != NULL ? io.sock : Py_NewRef(Py_None);
error:
    raise_stashed(self);
    Py_XDECREF(io.sock);
    return NULL;
}

static PyObject *
conn_getpeercert(tlsctx_connection *self, PyObject *args)
{
    int binary = 0;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "|p:getpeercert", &binary)) {
        return NULL;
    }
    if (!SSL_is_init_finished(self->ssl)) {
        PyErr_SetString(PyExc_ValueError, "handshake not done yet");
        return NULL;
    }
    X509 *peer = SSL_get1_peer_certificate(self->ssl);
    if (peer == NULL) {
        Py_RETURN_NONE;
    }
    if (binary) {
        result = tlsctx_certificate_der(self->state, peer);
    }
    else if ((SSL_CTX_get_verify_mode(SSL_get_SSL_CTX(self->ssl)) & SSL_VERIFY_PEER) == 0) {
        /* an unverified certificate is not decoded */
        result = PyDict_New();
    }
    else {
        result = tlsctx_decode_certificate(self->state, peer);
    }
    X509_free(peer);
    return result;
}

static PyObject *
conn_get_verified_chain(tlsctx_connection *self, PyObject *unused)
{
    STACK_OF(X509) *chain = SSL_get0_verified_chain(self->ssl);
    if (chain == NULL) {
        Py_RETURN_NONE;
    }
    return tlsctx_certificate_list(self->state, chain);
}

static PyObject *
conn_get_unverified_chain(tlsctx_connection *self, PyObject *unused)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(self->ssl);
    if (!self->server_side) {
        return chain == NULL ? Py_NewRef(Py_None) : tlsctx_certificate_list(self->state, chain);
    }
    /* A server's view of the chain leaves out the client's own certificate,
     * and a resumed session keeps only that certificate: as 3.15, the peer's
     * certificate first when there is one, then the rest of the chain. */
    X509 *peer = SSL_get1_peer_certificate(self->ssl);
    if (chain == NULL && peer == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *list = chain != NULL ? tlsctx_certificate_list(self->state, chain) : PyList_New(0);
    PyObject *first = NULL;
    if (list != NULL && peer != NULL) {
        first = tlsctx_certificate_new(self->state, peer);
        if (first == NULL || PyList_Insert(list, 0, first) < 0) {
            Py_CLEAR(list);
        }
    }
    Py_XDECREF(first);
    X509_free(peer);
    return list;
}

static PyObject *
cipher_tuple(const SSL_CIPHER *cipher)
{
    const char *name = SSL_CIPHER_get_name(cipher);
    const char *version = SSL_CIPHER_get_version(cipher);
    int bits = SSL_CIPHER_get_bits(cipher, NULL);
    return Py_BuildValue("(zzi)", name, version, bits);
}

static PyObject *
conn_cipher(tlsctx_connection *self, PyObject *unused)
{
    const SSL_CIPHER *current = SSL_get_current_cipher(self->ssl);
    if (current == NULL) {
        Py_RETURN_NONE;
    }
    return cipher_tuple(current);
}

static PyObject *
conn_shared_ciphers(tlsctx_connection *self, PyObject *unused)
{
    STACK_OF(SSL_CIPHER) *ours = SSL_get_ciphers(self->ssl);
    STACK_OF(SSL_CIPHER) *theirs = SSL_get_client_ciphers(self->ssl);
    if (ours == NULL || theirs == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *list = PyList_New(0);
    for (int i = 0; list != NULL && i < sk_SSL_CIPHER_num(ours); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(ours, i);
        if (sk_SSL_CIPHER_find(theirs, c) < 0) {
            continue;
        }
        PyObject *t = cipher_tuple(c);
        if (t == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(t);
    }
    return list;
}

static PyObject *
conn_compression(tlsctx_connection *self, PyObject *unused)
{
#ifndef OPENSSL_NO_COMP
    const COMP_METHOD *comp = SSL_get_current_compression(self->ssl);
    if (comp == NULL || COMP_get_type(comp) == NID_undef) {
        Py_RETURN_NONE;
    }
    const char *name = OBJ_nid2sn(COMP_get_type(comp));
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeFSDefault(name);
#else
    Py_RETURN_NONE;
#endif
}

static PyObject *
conn_version(tlsctx_connection *self, PyObject *unused)
{
    if (!SSL_is_init_finished(self->ssl)) {
        Py_RETURN_NONE;
    }
    const char *version = SSL_get_version(self->ssl);
    if (strcmp(version, "unknown") == 0) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(version);
}

static PyObject *
conn_selected_alpn_protocol(tlsctx_connection *self, PyObject *unused)
{
    const unsigned char *data;
    unsigned int len;
    SSL_get0_alpn_selected(self->ssl, &data, &len);
    if (data == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromStringAndSize((const char *)data, len);
}

/* CPython 3.15's group() / client_sigalg() / server_sigalg() */
static PyObject *
conn_group(tlsctx_connection *self, PyObject *unused)
{
    return tlsctx_ssl_group(self->ssl);
}

static PyObject *
conn_client_sigalg(tlsctx_connection *self, PyObject *unused)
{
    return tlsctx_ssl_client_sigalg(self->ssl);
}

static PyObject *
conn_server_sigalg(tlsctx_connection *self, PyObject *unused)
{
    return tlsctx_ssl_server_sigalg(self->ssl);
}

static PyObject *
conn_get_channel_binding(tlsctx_connection *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"cb_type", NULL};
    const char *cb_type = "tls-unique";
    unsigned char buf[128];
    size_t len;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|s:get_channel_binding", keywords,
                                     &cb_type)) {
        return NULL;
    }
    if (strcmp(cb_type, "tls-unique") != 0) {
        PyErr_Format(PyExc_ValueError, "'%s' channel binding type not implemented", cb_type);
        return NULL;
    }
    /* tls-unique is the first Finished message of the full handshake */
    if (SSL_session_reused(self->ssl) ^ !self->server_side) {
        len = SSL_get_finished(self->ssl, buf, sizeof(buf));
    }
    else {
        len = SSL_get_peer_finished(self->ssl, buf, sizeof(buf));
    }
    if (len == 0) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
}

static PyObject *
conn_verify_client_post_handshake(tlsctx_connection *self, PyObject *unused)
{
    if (SSL_verify_client_post_handshake(self->ssl) == 0) {
        return tlsctx_set_ssl_error(self->state, NULL);
    }
    Py_RETURN_NONE;
}

/* ---- what a connection takes from its context --------------------------------- */

/* The names of `ctx`'s ciphers of one kind (TLS 1.3 suites or not), in order,
 * joined with ':'; a new buffer (PyMem), NULL with an exception set. */
static char *
cipher_names(SSL_CTX *ctx, int tls13)
{
    STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
    size_t size = 1;
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
        size += strlen(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i))) + 1;
    }
    char *names = PyMem_Malloc(size), *end = names;
    if (names == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
        if ((strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0) != tls13) {
            continue;
        }
        const char *name = SSL_CIPHER_get_name(c);
        size_t n = strlen(name);
        if (end != names) {
            *end++ = ':';
        }
        memcpy(end, name, n);
        end += n;
    }
    *end = '\0';
    return names;
}

/* OpenSSL reads an SSL's cipher list from its SSL_CTX until the SSL has one
 * of its own, so set_ciphers() or set_ciphersuites() on the context would
 * free the list under a handshake running without the GIL. Each connection
 * gets its own copy of its context's list, and the context's server ALPN
 * list (an immutable bytes object) is pinned the same way: reconfiguring a
 * context only changes the connections made after. The rest of what the
 * handshake reads (certificate and key, groups, signature algorithms, ALPN
 * offer, options, verify parameters) OpenSSL already copies into the SSL.
 * `switched`: SSL_set_SSL_CTX moved the SSL to `ctx` (an SNI callback), which
 * OpenSSL's own handshake would then read its ciphers from. */
static int
pin_context_settings(tlsctx_connection *self, tlsctx_context *ctx, int switched)
{
    int ok = 0;
    char *tls13 = cipher_names(ctx->ctx, 1);
    char *tls12 = NULL;
    if (tls13 == NULL) {
        return -1;
    }
    /* without a list of its own yet, the SSL copies the context's (the TLS 1.2
     * part as it is) and rebuilds the TLS 1.3 part from these names */
    ok = SSL_set_ciphersuites(self->ssl, tls13);
    if (ok && switched) {
        tls12 = cipher_names(ctx->ctx, 0);
        if (tls12 == NULL) {
            PyMem_Free(tls13);
            return -1;
        }
        ok = SSL_set_cipher_list(self->ssl, tls12);
    }
    PyMem_Free(tls13);
    PyMem_Free(tls12);
    if (!ok) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    Py_XSETREF(self->alpn, tlsctx_locked_get(&ctx->lock, &ctx->alpn_protocols));
    return 0;
}

const unsigned char *
tlsctx_connection_alpn(const SSL *ssl, unsigned int *len)
{
    tlsctx_connection *self = SSL_get_app_data(ssl);
    if (self == NULL || self->alpn == NULL) {
        *len = 0;
        return (const unsigned char *)"";
    }
    *len = (unsigned int)PyBytes_GET_SIZE(self->alpn);
    return (const unsigned char *)PyBytes_AS_STRING(self->alpn);
}

/* ---- attributes -------------------------------------------------------------- */

static PyObject *
conn_get_context(tlsctx_connection *self, void *closure)
{
    return Py_NewRef((PyObject *)self->ctx);
}

static int
conn_set_context(tlsctx_connection *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    if (!PyObject_TypeCheck(value, self->state->context_type)) {
        PyErr_SetString(PyExc_TypeError, "The value must be a SSLContext");
        return -1;
    }
    tlsctx_context *ctx = (tlsctx_context *)value;
    if (SSL_set_SSL_CTX(self->ssl, ctx->ctx) == NULL) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    if (pin_context_settings(self, ctx, 1) < 0) {
        return -1;
    }
    Py_SETREF(self->ctx, (tlsctx_context *)Py_NewRef(value));
    /* the SSL's pinned stores went with its old certificate settings; maybe
     * called mid-handshake (SNI): pin the new context's now */
    return tlsctx_trust_pin(ctx, self->ssl);
}

static PyObject *
conn_get_server_side(tlsctx_connection *self, void *closure)
{
    return PyBool_FromLong(self->server_side);
}

static PyObject *
conn_get_server_hostname(tlsctx_connection *self, void *closure)
{
    return Py_NewRef(self->server_hostname ? self->server_hostname : Py_None);
}

static PyObject *
conn_get_owner(tlsctx_connection *self, void *closure)
{
    if (self->owner_ref == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *owner = weak_get(self->owner_ref);
    if (owner == NULL && !PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    return owner;
}

static int
conn_set_owner(tlsctx_connection *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    PyObject *ref = PyWeakref_NewRef(value, NULL);
    if (ref == NULL) {
        return -1;
    }
    Py_XSETREF(self->owner_ref, ref);
    return 0;
}

static PyObject *
conn_get_session(tlsctx_connection *self, void *closure)
{
    SSL_SESSION *session = SSL_get1_session(self->ssl);
    if (session == NULL) {
        Py_RETURN_NONE;
    }
    return tlsctx_session_wrap(self->state, self->ctx, session);
}

static int
conn_set_session(tlsctx_connection *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    if (!Py_IS_TYPE(value, self->state->session_type)) {
        PyErr_SetString(PyExc_TypeError, "Value is not a SSLSession.");
        return -1;
    }
    tlsctx_session *session = (tlsctx_session *)value;
    if (refuse_reentry(self) < 0) {
        return -1;
    }
    if (session->ctx->ctx != self->ctx->ctx) {
        PyErr_SetString(PyExc_ValueError, "Session refers to a different SSLContext.");
        return -1;
    }
    if (self->server_side) {
        PyErr_SetString(PyExc_ValueError, "Cannot set session for server-side SSLSocket.");
        return -1;
    }
    if (SSL_is_init_finished(self->ssl)) {
        PyErr_SetString(PyExc_ValueError, "Cannot set session after handshake.");
        return -1;
    }
    if (!SSL_set_session(self->ssl, session->session)) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    return 0;
}

static PyObject *
conn_get_session_reused(tlsctx_connection *self, void *closure)
{
    return PyBool_FromLong(SSL_session_reused(self->ssl));
}

/* ---- life cycle ------------------------------------------------------------------- */

static int
conn_traverse(tlsctx_connection *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->ctx);
    Py_VISIT(self->sock_ref);
    Py_VISIT(self->owner_ref);
    Py_VISIT(self->server_hostname);
    Py_VISIT(self->incoming);
    Py_VISIT(self->outgoing);
    Py_VISIT(self->exc);
    Py_VISIT(self->alpn);
    Py_VISIT(self->deferred_exc);
    return 0;
}

static int
conn_clear(tlsctx_connection *self)
{
    Py_CLEAR(self->ctx);
    Py_CLEAR(self->sock_ref);
    Py_CLEAR(self->owner_ref);
    Py_CLEAR(self->server_hostname);
    Py_CLEAR(self->incoming);
    Py_CLEAR(self->outgoing);
    Py_CLEAR(self->exc);
    Py_CLEAR(self->alpn);
    Py_CLEAR(self->deferred_exc);
    return 0;
}

static void
conn_dealloc(tlsctx_connection *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->ssl != NULL) {
        /* Freed without a shutdown, OpenSSL would drop the session from the
         * cache; like the stdlib, keep it resumable. Python BIOs only
         * borrow their objects, so the SSL goes before them. */
        SSL_set_shutdown(self->ssl, SSL_SENT_SHUTDOWN | SSL_get_shutdown(self->ssl));
        SSL_free(self->ssl);
        self->ssl = NULL;
    }
    conn_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

/* server_hostname: SNI, and the name or address verified when check_hostname */
static int
configure_hostname(tlsctx_connection *self, const char *hostname)
{
    size_t len = strlen(hostname);
    if (len == 0 || hostname[0] == '.') {
        PyErr_SetString(PyExc_ValueError,
                        "server_hostname cannot be an empty string or start with a leading dot.");
        return -1;
    }
    PyObject *name = PyUnicode_DecodeASCII(hostname, (Py_ssize_t)len, "strict");
    if (name == NULL) {
        return -1;
    }
    Py_XSETREF(self->server_hostname, name);
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(hostname);
    int rc = -1;
    if (ip == NULL) {
        ERR_clear_error();
        /* SNI carries names only */
        if (!SSL_set_tlsext_host_name(self->ssl, hostname)) {
            tlsctx_set_ssl_error(self->state, NULL);
            goto done;
        }
    }
    if (self->ctx->check_hostname) {
        X509_VERIFY_PARAM *param = SSL_get0_param(self->ssl);
        int ok = ip == NULL
                     ? X509_VERIFY_PARAM_set1_host(param, hostname, len)
                     : X509_VERIFY_PARAM_set1_ip(param, ASN1_STRING_get0_data(ip),
                                                 (size_t)ASN1_STRING_length(ip));
        if (!ok) {
            tlsctx_set_ssl_error(self->state, NULL);
            goto done;
        }
    }
    rc = 0;
done:
    ASN1_OCTET_STRING_free(ip);
    return rc;
}

/* Everything _wrap_socket and _wrap_bio share: `sock` with its descriptor,
 * or the two BIO objects. */
static PyObject *
new_connection(tlsctx_context *ctx, PyObject *sock, int fd, PyObject *incoming,
               PyObject *outgoing, int server_side, PyObject *hostname_obj, PyObject *owner,
               PyObject *session)
{
    tlsctx_state *state = ctx->state;
    char *hostname = NULL;
    tlsctx_connection *self = NULL;

    /* an SSLError (errno 0, no library) in 3.13, like its other own messages */
    if (server_side && ctx->protocol == TLSCTX_PROTO_TLS_CLIENT) {
        return tlsctx_set_ssl_error(
            state, "Cannot create a server socket with a PROTOCOL_TLS_CLIENT context");
    }
    if (!server_side && ctx->protocol == TLSCTX_PROTO_TLS_SERVER) {
        return tlsctx_set_ssl_error(
            state, "Cannot create a client socket with a PROTOCOL_TLS_SERVER context");
    }
    if (hostname_obj != Py_None && !PyArg_Parse(hostname_obj, "es", "ascii", &hostname)) {
        return NULL;
    }
    self = PyObject_GC_New(tlsctx_connection, state->connection_type);
    if (self == NULL) {
        goto error;
    }
    self->ssl = NULL;
    self->state = state;
    self->ctx = (tlsctx_context *)Py_NewRef((PyObject *)ctx);
    self->sock_ref = self->owner_ref = self->server_hostname = NULL;
    self->incoming = self->outgoing = self->exc = NULL;
    self->exc_is_bio = 0;
    memset(&self->lock, 0, sizeof(self->lock));
    self->server_side = server_side;
    self->shutdown_seen_zero = 0;
    self->eof_error = 0;
    self->alpn = NULL;
    self->python_in = self->python_out = NULL;
    self->deferred_exc = NULL;
    PyObject_GC_Track(self);

    ERR_clear_error();
    self->ssl = SSL_new(ctx->ctx);
    if (self->ssl == NULL) {
        tlsctx_set_ssl_error(state, NULL);
        goto error;
    }
    SSL_set_app_data(self->ssl, self);
    /* the store, cipher list and ALPN list it uses, whatever the context
     * changes later */
    if (tlsctx_trust_pin(ctx, self->ssl) < 0 || pin_context_settings(self, ctx, 0) < 0) {
        goto error;
    }
    if (sock != NULL) {
        if (!SSL_set_fd(self->ssl, fd)) {
            tlsctx_set_ssl_error(state, NULL);
            goto error;
        }
    }
    else {
        self->incoming = Py_NewRef(incoming);
        self->outgoing = Py_NewRef(outgoing);
        python_bio_data *python_in, *python_out;
        BIO *rbio = bio_for(self, incoming, &python_in);
        if (rbio == NULL) {
            goto error;
        }
        BIO *wbio = rbio;
        python_out = python_in;
        if (outgoing != incoming) {
            wbio = bio_for(self, outgoing, &python_out);
            if (wbio == NULL) {
                BIO_free(rbio);
                goto error;
            }
        }
        SSL_set_bio(self->ssl, rbio, wbio);  /* takes both */
        self->python_in = python_in;
        self->python_out = python_out;
    }
    SSL_set_mode(self->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);

    if (ctx->post_handshake_auth) {
        if (server_side) {
            int mode = SSL_get_verify_mode(self->ssl);
            if (mode & SSL_VERIFY_PEER) {
                SSL_set_verify(self->ssl, mode | SSL_VERIFY_POST_HANDSHAKE,
                               SSL_get_verify_callback(self->ssl));
            }
        }
        else {
            SSL_set_post_handshake_auth(self->ssl, 1);
        }
    }
    if (hostname != NULL && configure_hostname(self, hostname) < 0) {
        goto error;
    }
    if (sock != NULL) {
        PyObject *t = PyObject_CallMethod(sock, "gettimeout", NULL);
        if (t == NULL) {
            goto error;
        }
        long nonblocking = t != Py_None;
        Py_DECREF(t);
        BIO_set_nbio(SSL_get_rbio(self->ssl), nonblocking);
        BIO_set_nbio(SSL_get_wbio(self->ssl), nonblocking);
        self->sock_ref = PyWeakref_NewRef(sock, NULL);
        if (self->sock_ref == NULL) {
            goto error;
        }
    }
    if (server_side) {
        /* Server sessions need an id context to be resumable.  Clients keep
         * an empty one: a TLS 1.3 PSK session made by the psk_client_callback
         * has none, and OpenSSL refuses a session from a "different context". */
        if (!SSL_set_session_id_context(self->ssl, (const unsigned char *)"Python",
                                        sizeof("Python"))) {
            tlsctx_set_ssl_error(state, NULL);
            goto error;
        }
        SSL_set_accept_state(self->ssl);
    }
    else {
        SSL_set_connect_state(self->ssl);
    }
    if (owner != Py_None && conn_set_owner(self, owner, NULL) < 0) {
        goto error;
    }
    if (session != Py_None && conn_set_session(self, session, NULL) < 0) {
        goto error;
    }
    PyMem_Free(hostname);
    return (PyObject *)self;
error:
    PyMem_Free(hostname);
    Py_XDECREF(self);
    return NULL;
}

PyObject *
tlsctx_context_wrap_socket(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"sock", "server_side", "server_hostname", "owner", "session", NULL};
    PyObject *sock, *hostname = Py_None, *owner = Py_None, *session = Py_None;
    int server_side;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Op|O$OO:_wrap_socket", keywords, &sock,
                                     &server_side, &hostname, &owner, &session)) {
        return NULL;
    }
    PyObject *socket_module = PyImport_ImportModule("_socket");
    if (socket_module == NULL) {
        return NULL;
    }
    PyObject *socket_type = PyObject_GetAttrString(socket_module, "socket");
    Py_DECREF(socket_module);
    if (socket_type == NULL) {
        return NULL;
    }
    int ok = PyObject_IsInstance(sock, socket_type);
    Py_DECREF(socket_type);
    if (ok <= 0) {
        if (ok == 0) {
            PyErr_Format(PyExc_TypeError,
                         "_wrap_socket() argument 'sock' must be _socket.socket, not %s",
                         Py_TYPE(sock)->tp_name);
        }
        return NULL;
    }
    PyObject *fd_obj = PyObject_CallMethod(sock, "fileno", NULL);
    if (fd_obj == NULL) {
        return NULL;
    }
    long fd = PyLong_AsLong(fd_obj);
    Py_DECREF(fd_obj);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (fd < 0 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "the socket has no usable file descriptor");
        return NULL;
    }
    return new_connection(self, sock, (int)fd, NULL, NULL, server_side, hostname, owner, session);
}

PyObject *
tlsctx_context_wrap_bio(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"incoming", "outgoing", "server_side", "server_hostname",
                               "owner", "session", NULL};
    PyObject *incoming, *outgoing, *hostname = Py_None, *owner = Py_None, *session = Py_None;
    int server_side;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOp|O$OO:_wrap_bio", keywords, &incoming,
                                     &outgoing, &server_side, &hostname, &owner, &session)) {
        return NULL;
    }
    PyObject *pair[2] = {incoming, outgoing};
    const char *names[2] = {"incoming", "outgoing"};
    for (int i = 0; i < 2; i++) {
        if (!Py_IS_TYPE(pair[i], self->state->memory_bio_type) && !is_bio_like(pair[i])) {
            PyErr_Format(PyExc_TypeError,
                         "_wrap_bio() argument '%s' must be a MemoryBIO (or have read, write, "
                         "pending and eof), not %s",
                         names[i], Py_TYPE(pair[i])->tp_name);
            return NULL;
        }
    }
    return new_connection(self, NULL, -1, incoming, outgoing, server_side, hostname, owner,
                          session);
}

PyObject *
tlsctx_connection_for_callback(SSL *ssl)
{
    tlsctx_connection *self = SSL_get_app_data(ssl);
    if (self == NULL) {
        Py_RETURN_NONE;
    }
    /* user callbacks see the SSLSocket/SSLObject, else the socket, else us;
     * once that object is gone there is nobody to call back (the stdlib's
     * rule): NULL without an exception */
    PyObject *ref = self->owner_ref != NULL ? self->owner_ref : self->sock_ref;
    if (ref == NULL) {
        return Py_NewRef((PyObject *)self);
    }
    return weak_get(ref);
}

void
tlsctx_connection_stash_exception(SSL *ssl)
{
    tlsctx_connection *self = SSL_get_app_data(ssl);
    if (self == NULL) {
        PyErr_WriteUnraisable(NULL);
        return;
    }
    stash_on(self, 0);
}

static PyMethodDef conn_methods[] = {
    {"do_handshake", (PyCFunction)conn_do_handshake, METH_NOARGS, NULL},
    {"read", (PyCFunction)conn_read, METH_VARARGS, NULL},
    {"write", (PyCFunction)conn_write, METH_O, NULL},
    {"pending", (PyCFunction)conn_pending, METH_NOARGS, NULL},
    {"sendfile", (PyCFunction)conn_sendfile, METH_VARARGS, NULL},
    {"uses_ktls_for_send", (PyCFunction)conn_uses_ktls_for_send, METH_NOARGS, NULL},
    {"uses_ktls_for_recv", (PyCFunction)conn_uses_ktls_for_recv, METH_NOARGS, NULL},
    {"shutdown", (PyCFunction)conn_shutdown, METH_NOARGS, NULL},
    {"getpeercert", (PyCFunction)conn_getpeercert, METH_VARARGS, NULL},
    {"get_verified_chain", (PyCFunction)conn_get_verified_chain, METH_NOARGS, NULL},
    {"get_unverified_chain", (PyCFunction)conn_get_unverified_chain, METH_NOARGS, NULL},
    {"cipher", (PyCFunction)conn_cipher, METH_NOARGS, NULL},
    {"shared_ciphers", (PyCFunction)conn_shared_ciphers, METH_NOARGS, NULL},
    {"compression", (PyCFunction)conn_compression, METH_NOARGS, NULL},
    {"version", (PyCFunction)conn_version, METH_NOARGS, NULL},
    {"selected_alpn_protocol", (PyCFunction)conn_selected_alpn_protocol, METH_NOARGS, NULL},
    {"group", (PyCFunction)conn_group, METH_NOARGS, NULL},
    {"client_sigalg", (PyCFunction)conn_client_sigalg, METH_NOARGS, NULL},
    {"server_sigalg", (PyCFunction)conn_server_sigalg, METH_NOARGS, NULL},
    {"get_channel_binding", (PyCFunction)(void (*)(void))conn_get_channel_binding,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"verify_client_post_handshake", (PyCFunction)conn_verify_client_post_handshake,
     METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef conn_getset[] = {
    {"context", (getter)conn_get_context, (setter)conn_set_context, NULL, NULL},
    {"server_side", (getter)conn_get_server_side, NULL, NULL, NULL},
    {"server_hostname", (getter)conn_get_server_hostname, NULL, NULL, NULL},
    {"owner", (getter)conn_get_owner, (setter)conn_set_owner, NULL, NULL},
    {"session", (getter)conn_get_session, (setter)conn_set_session, NULL, NULL},
    {"session_reused", (getter)conn_get_session_reused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot conn_slots[] = {
    {Py_tp_dealloc, conn_dealloc},
    {Py_tp_traverse, conn_traverse},
    {Py_tp_clear, conn_clear},
    {Py_tp_methods, conn_methods},
    {Py_tp_getset, conn_getset},
    {0, NULL},
};

static PyType_Spec conn_spec = {
    .name = "tlsctx._SSLSocket",
    .basicsize = sizeof(tlsctx_connection),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = conn_slots,
};

int
tlsctx_setup_connection_type(PyObject *module, tlsctx_state *state)
{
    state->str_read = PyUnicode_InternFromString("read");
    state->str_write = PyUnicode_InternFromString("write");
    state->str_pending = PyUnicode_InternFromString("pending");
    state->str_eof = PyUnicode_InternFromString("eof");
    if (state->str_read == NULL || state->str_write == NULL || state->str_pending == NULL
        || state->str_eof == NULL) {
        return -1;
    }
    state->connection_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &conn_spec, NULL);
    if (state->connection_type == NULL
        || PyModule_AddObjectRef(module, "_SSLSocket", (PyObject *)state->connection_type) < 0) {
        return -1;
    }
    return 0;
}
