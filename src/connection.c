/* TLS connections over a socket or memory BIOs (the object behind
 * SSLSocket._sslobj / SSLObject._sslobj, with the stdlib _SSLSocket's
 * interface), MemoryBIO and SSLSession. */
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
    BIO *bio;
    int eof_written;
} tlsctx_memory_bio;

typedef struct {
    PyObject_HEAD
    SSL_SESSION *session;
    tlsctx_context *ctx;
} tlsctx_session;

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
    PyObject *exc;             /* raised by a callback during the current OpenSSL call */
    int exc_is_bio;            /* ... by a Python-level BIO: re-raised as it is */
    int server_side;
    int shutdown_seen_zero;
    int python_bio;            /* I/O calls back into Python: keep the GIL */
    X509_STORE *probe;         /* verify/chain store of the SSL while the context's is
                                * shared and unsorted (tlsctx_trust_new_probe), or NULL */
    X509_STORE *probe_source;  /* the context's store the probe was checked against */
} tlsctx_connection;

/* ---- BIOs implemented by Python objects (e.g. the stdlib's ssl.MemoryBIO) --- */

typedef struct {
    PyObject *obj;             /* borrowed: the connection holds it */
    tlsctx_connection *conn;
} python_bio_data;

static void
stash_on(tlsctx_connection *conn, int from_bio)
{
    PyObject *exc = fetch_exception();
    if (exc == NULL) {
        return;
    }
    if (conn->exc != NULL) {
        PyException_SetContext(exc, conn->exc);  /* steals the older one */
    }
    conn->exc = exc;
    conn->exc_is_bio = from_bio;
}

static int
python_bio_write(BIO *bio, const char *data, int len)
{
    python_bio_data *d = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    PyObject *r = PyObject_CallMethod(d->obj, "write", "y#", data, (Py_ssize_t)len);
    if (r == NULL) {
        stash_on(d->conn, 1);
        return -1;
    }
    Py_DECREF(r);
    return len;
}

static int
python_bio_eof(python_bio_data *d)
{
    PyObject *eof = PyObject_GetAttrString(d->obj, "eof");
    if (eof == NULL) {
        return -1;
    }
    int rc = PyObject_IsTrue(eof);
    Py_DECREF(eof);
    return rc;
}

static int
python_bio_read(BIO *bio, char *out, int len)
{
    python_bio_data *d = BIO_get_data(bio);
    Py_buffer view;
    BIO_clear_retry_flags(bio);
    PyObject *data = PyObject_CallMethod(d->obj, "read", "i", len);
    if (data == NULL || PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(data);
        stash_on(d->conn, 1);
        return -1;
    }
    Py_ssize_t n = view.len < len ? view.len : len;
    memcpy(out, view.buf, (size_t)n);
    PyBuffer_Release(&view);
    Py_DECREF(data);
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

static long
python_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    python_bio_data *d = BIO_get_data(bio);
    switch (cmd) {
    case BIO_CTRL_PENDING: {
        PyObject *pending = PyObject_GetAttrString(d->obj, "pending");
        long n = pending ? PyLong_AsLong(pending) : -1;
        Py_XDECREF(pending);
        if (n < 0 && PyErr_Occurred()) {
            stash_on(d->conn, 1);
            return 0;
        }
        return n;
    }
    case BIO_CTRL_EOF: {
        int eof = python_bio_eof(d);
        if (eof < 0) {
            stash_on(d->conn, 1);
            return 1;
        }
        return eof;
    }
    case BIO_CTRL_FLUSH:
        return 1;
    }
    return 0;
}

static int
python_bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static int
python_bio_destroy(BIO *bio)
{
    OPENSSL_free(BIO_get_data(bio));
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

/* A BIO for `obj`, new; NULL with an exception set. */
static BIO *
bio_for(tlsctx_connection *conn, PyObject *obj, int *is_python)
{
    tlsctx_state *state = conn->state;
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
    BIO_set_data(bio, d);
    *is_python = 1;
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

enum io_op { OP_HANDSHAKE, OP_READ, OP_WRITE, OP_SHUTDOWN };

typedef struct {
    int ret;
    int failed;
    int ssl_error;
    int saved_errno;
    size_t count;
} io_result;

/* ---- verifying without sorting a shared store ---------------------------- */

static void
probe_drop(tlsctx_connection *self)
{
    if (self->probe != NULL && self->ssl != NULL) {
        SSL_set1_verify_cert_store(self->ssl, NULL);
        SSL_set1_chain_cert_store(self->ssl, NULL);
    }
    X509_STORE_free(self->probe);
    X509_STORE_free(self->probe_source);
    self->probe = self->probe_source = NULL;
}

/* Before OpenSSL calls: give the SSL a probe when the context's store (which
 * may have changed since the last call) is shared and unsorted. */
static int
probe_before(tlsctx_connection *self)
{
    X509_STORE *current = SSL_CTX_get_cert_store(self->ctx->ctx);
    if (current == self->probe_source) {
        return 0;
    }
    probe_drop(self);
    X509_STORE *probe = tlsctx_trust_new_probe(self->ctx);
    if (probe == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (probe != NULL && (!SSL_set1_verify_cert_store(self->ssl, probe)
                          || !SSL_set1_chain_cert_store(self->ssl, probe))) {
        SSL_set1_verify_cert_store(self->ssl, NULL);
        X509_STORE_free(probe);
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    if (!X509_STORE_up_ref(current)) {
        self->probe = probe;
        probe_drop(self);
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    self->probe = probe;
    self->probe_source = current;
    return 0;
}

/* After OpenSSL calls: a look-up sorted the probe, so the context's store is
 * due to be sorted as the stdlib's would be; the probe has done its work. */
static int
probe_after(tlsctx_connection *self)
{
    if (self->probe == NULL) {
        return 0;
    }
    if (!X509_STORE_lock(self->probe)) {
        return 0;
    }
    int sorted = sk_X509_OBJECT_is_sorted(X509_STORE_get0_objects(self->probe));
    X509_STORE_unlock(self->probe);
    if (!sorted) {
        return 0;
    }
    int rc = tlsctx_trust_probe_sorted(self->ctx, self->probe_source, self->probe);
    probe_drop(self);
    return rc;
}

static void
ssl_call(tlsctx_connection *self, enum io_op op, void *buf, size_t len, io_result *r)
{
    /* a BIO written in Python needs the GIL; everything else runs without it */
    PyThreadState *ts = self->python_bio ? NULL : PyEval_SaveThread();
    SSL *ssl = self->ssl;
    r->count = 0;
    ERR_clear_error();
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
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
    }
    if (probe_after(self) < 0) {
        stash_on(self, 0);   /* raised once the call's outcome is known */
    }
}

/* After an OpenSSL call: an exception a callback stashed wins over a
 * plain failure; otherwise it becomes the context of the raised one.
 * Returns -1 when an exception is set afterwards. */
static int
raise_stashed(tlsctx_connection *self)
{
    PyObject *stashed = self->exc;
    if (stashed == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    self->exc = NULL;
    if (self->exc_is_bio || !PyErr_Occurred()) {
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
    if (self->exc != NULL && self->exc_is_bio) {
        ERR_clear_error();
        raise_stashed(self);
        return NULL;
    }
    tlsctx_raise_connection_error(self->state, self->ssl, r->ssl_error, r->saved_errno,
                                  self->server_hostname, __FILE__, __LINE__);
    raise_stashed(self);
    return NULL;
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

static int
io_begin(tlsctx_connection *self, io_ctx *io)
{
    io->sock = NULL;
    io->timeout = 0.0;   /* memory BIOs behave as non-blocking */
    io->deadline = 0.0;
    if (probe_before(self) < 0) {
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
        dest = PyBytes_FromStringAndSize(NULL, len);
        if (dest == NULL) {
            return NULL;
        }
        mem = PyBytes_AS_STRING(dest);
    }
    if (len == 0) {
        goto done;
    }
    if (io_begin(self, &io) < 0) {
        goto error;
    }
    do {
        ssl_call(self, OP_READ, mem, (size_t)len, &r);
        if (PyErr_CheckSignals() < 0) {
            goto error;
        }
        if (r.ssl_error == SSL_ERROR_ZERO_RETURN
            && SSL_get_shutdown(self->ssl) == SSL_RECEIVED_SHUTDOWN) {
            /* the peer closed cleanly: end of stream */
            r.count = 0;
            ERR_clear_error();
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
    int st;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (io_begin(self, &io) < 0) {
        goto error;
    }
    st = io_wait(&io, 1);
    if (st < 0) {
        goto error;
    }
    if (st == SOCK_TIMED_OUT) {
        PyErr_SetString(PyExc_TimeoutError, WHERE("The write operation timed out"));
        goto error;
    }
    if (st == SOCK_CLOSED) {
        PyErr_SetString(self->state->SSLError, WHERE("Underlying socket has been closed."));
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

/* CPython 3.15: whether kernel TLS carries this connection's records */
static PyObject *
conn_uses_ktls_for_send(tlsctx_connection *self, PyObject *unused)
{
#ifdef BIO_get_ktls_send
    return PyBool_FromLong(BIO_get_ktls_send(SSL_get_wbio(self->ssl)) == 1);
#else
    Py_RETURN_FALSE;
#endif
}

static PyObject *
conn_uses_ktls_for_recv(tlsctx_connection *self, PyObject *unused)
{
#ifdef BIO_get_ktls_recv
    return PyBool_FromLong(BIO_get_ktls_recv(SSL_get_rbio(self->ssl)) == 1);
#else
    Py_RETURN_FALSE;
#endif
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
    if (tlsctx_trust_prepare_for_handshake(ctx) < 0) {
        return -1;
    }
    if (SSL_set_SSL_CTX(self->ssl, ctx->ctx) == NULL) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    Py_SETREF(self->ctx, (tlsctx_context *)Py_NewRef(value));
    /* the SSL's stores went with its old certificate settings; maybe called
     * mid-handshake (SNI), so the new context's probe is needed right away */
    probe_drop(self);
    return probe_before(self);
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

static PyObject *session_wrap(tlsctx_state *state, tlsctx_context *ctx, SSL_SESSION *session);

static PyObject *
conn_get_session(tlsctx_connection *self, void *closure)
{
    SSL_SESSION *session = SSL_get1_session(self->ssl);
    if (session == NULL) {
        Py_RETURN_NONE;
    }
    return session_wrap(self->state, self->ctx, session);
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
    probe_drop(self);
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
    /* capath look-ups must not grow a store other contexts share */
    if (tlsctx_trust_prepare_for_handshake(ctx) < 0) {
        goto error;
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
    self->server_side = server_side;
    self->shutdown_seen_zero = 0;
    self->python_bio = 0;
    self->probe = self->probe_source = NULL;
    PyObject_GC_Track(self);

    ERR_clear_error();
    self->ssl = SSL_new(ctx->ctx);
    if (self->ssl == NULL) {
        tlsctx_set_ssl_error(state, NULL);
        goto error;
    }
    SSL_set_app_data(self->ssl, self);
    if (sock != NULL) {
        if (!SSL_set_fd(self->ssl, fd)) {
            tlsctx_set_ssl_error(state, NULL);
            goto error;
        }
    }
    else {
        self->incoming = Py_NewRef(incoming);
        self->outgoing = Py_NewRef(outgoing);
        BIO *rbio = bio_for(self, incoming, &self->python_bio);
        if (rbio == NULL) {
            goto error;
        }
        BIO *wbio = rbio;
        if (outgoing != incoming) {
            wbio = bio_for(self, outgoing, &self->python_bio);
            if (wbio == NULL) {
                BIO_free(rbio);
                goto error;
            }
        }
        SSL_set_bio(self->ssl, rbio, wbio);  /* takes both */
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
    {"shutdown", (PyCFunction)conn_shutdown, METH_NOARGS, NULL},
    {"getpeercert", (PyCFunction)conn_getpeercert, METH_VARARGS, NULL},
    {"get_verified_chain", (PyCFunction)conn_get_verified_chain, METH_NOARGS, NULL},
    {"get_unverified_chain", (PyCFunction)conn_get_unverified_chain, METH_NOARGS, NULL},
    {"uses_ktls_for_send", (PyCFunction)conn_uses_ktls_for_send, METH_NOARGS, NULL},
    {"uses_ktls_for_recv", (PyCFunction)conn_uses_ktls_for_recv, METH_NOARGS, NULL},
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

/* ---- MemoryBIO -------------------------------------------------------------------- */

static PyObject *
memory_bio_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "MemoryBIO() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, ":MemoryBIO")) {
        return NULL;
    }
    PyObject *module = PyType_GetModuleByDef(type, &tlsctx_module_def);
    if (module == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return tlsctx_set_ssl_error(tlsctx_get_state(module), NULL);
    }
    /* empty means "wait for more" until write_eof() */
    BIO_set_retry_read(bio);
    BIO_set_mem_eof_return(bio, -1);
    tlsctx_memory_bio *self = (tlsctx_memory_bio *)type->tp_alloc(type, 0);
    if (self == NULL) {
        BIO_free(bio);
        return NULL;
    }
    self->bio = bio;
    self->eof_written = 0;
    return (PyObject *)self;
}

static void
memory_bio_dealloc(tlsctx_memory_bio *self)
{
    PyTypeObject *type = Py_TYPE(self);
    BIO_free(self->bio);
    type->tp_free(self);
    Py_DECREF(type);
}

static tlsctx_state *
memory_bio_state(tlsctx_memory_bio *self)
{
    return tlsctx_state_from_type(Py_TYPE(self));
}

static PyObject *
memory_bio_read(tlsctx_memory_bio *self, PyObject *args)
{
    int len = -1;
    if (!PyArg_ParseTuple(args, "|i:read", &len)) {
        return NULL;
    }
    size_t pending = BIO_ctrl_pending(self->bio);
    int avail = pending > INT_MAX ? INT_MAX : (int)pending;
    if (len < 0 || len > avail) {
        len = avail;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, len);
    if (result == NULL || len == 0) {
        return result;
    }
    int n = BIO_read(self->bio, PyBytes_AS_STRING(result), len);
    if (n < 0) {
        Py_DECREF(result);
        return tlsctx_set_ssl_error(memory_bio_state(self), NULL);
    }
    if (n < len) {
        Py_SETREF(result, PyBytes_FromStringAndSize(PyBytes_AS_STRING(result), n));
    }
    return result;
}

static PyObject *
memory_bio_write(tlsctx_memory_bio *self, PyObject *arg)
{
    Py_buffer b;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (b.len > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "string longer than %d bytes", INT_MAX);
        goto done;
    }
    if (self->eof_written) {
        PyErr_SetString(memory_bio_state(self)->SSLError, "cannot write() after write_eof()");
        goto done;
    }
    int n = BIO_write(self->bio, b.buf, (int)b.len);
    if (n < 0) {
        tlsctx_set_ssl_error(memory_bio_state(self), NULL);
        goto done;
    }
    result = PyLong_FromLong(n);
done:
    PyBuffer_Release(&b);
    return result;
}

static PyObject *
memory_bio_write_eof(tlsctx_memory_bio *self, PyObject *unused)
{
    self->eof_written = 1;
    /* once drained, reads report end of file instead of "retry" */
    BIO_clear_retry_flags(self->bio);
    BIO_set_mem_eof_return(self->bio, 0);
    Py_RETURN_NONE;
}

static PyObject *
memory_bio_get_pending(tlsctx_memory_bio *self, void *closure)
{
    return PyLong_FromSize_t(BIO_ctrl_pending(self->bio));
}

static PyObject *
memory_bio_get_eof(tlsctx_memory_bio *self, void *closure)
{
    return PyBool_FromLong(BIO_ctrl_pending(self->bio) == 0 && self->eof_written);
}

static PyMethodDef memory_bio_methods[] = {
    {"read", (PyCFunction)memory_bio_read, METH_VARARGS, NULL},
    {"write", (PyCFunction)memory_bio_write, METH_O, NULL},
    {"write_eof", (PyCFunction)memory_bio_write_eof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef memory_bio_getset[] = {
    {"pending", (getter)memory_bio_get_pending, NULL, "The number of bytes pending in the memory BIO.", NULL},
    {"eof", (getter)memory_bio_get_eof, NULL, "Whether the memory BIO is at EOF.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot memory_bio_slots[] = {
    {Py_tp_new, memory_bio_new},
    {Py_tp_dealloc, memory_bio_dealloc},
    {Py_tp_methods, memory_bio_methods},
    {Py_tp_getset, memory_bio_getset},
    {0, NULL},
};

static PyType_Spec memory_bio_spec = {
    .name = "tlsctx.MemoryBIO",
    .basicsize = sizeof(tlsctx_memory_bio),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = memory_bio_slots,
};

/* ---- SSLSession ---------------------------------------------------------------------- */

/* steals `session` */
static PyObject *
session_wrap(tlsctx_state *state, tlsctx_context *ctx, SSL_SESSION *session)
{
    tlsctx_session *self = PyObject_GC_New(tlsctx_session, state->session_type);
    if (self == NULL) {
        SSL_SESSION_free(session);
        return NULL;
    }
    self->session = session;
    self->ctx = (tlsctx_context *)Py_NewRef((PyObject *)ctx);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
session_traverse(tlsctx_session *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->ctx);
    return 0;
}

static int
session_clear(tlsctx_session *self)
{
    Py_CLEAR(self->ctx);
    return 0;
}

static void
session_dealloc(tlsctx_session *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    session_clear(self);
    SSL_SESSION_free(self->session);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *
session_richcompare(PyObject *left, PyObject *right, int op)
{
    PyTypeObject *type = Py_TYPE(left);
    if ((op != Py_EQ && op != Py_NE) || !Py_IS_TYPE(right, type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int equal = 1;
    if (left != right) {
        unsigned int len1, len2;
        const unsigned char *id1 = SSL_SESSION_get_id(((tlsctx_session *)left)->session, &len1);
        const unsigned char *id2 = SSL_SESSION_get_id(((tlsctx_session *)right)->session, &len2);
        equal = len1 == len2 && memcmp(id1, id2, len1) == 0;
    }
    return PyBool_FromLong(op == Py_EQ ? equal : !equal);
}

static PyObject *
session_get_time(tlsctx_session *self, void *closure)
{
    return PyLong_FromLong(SSL_SESSION_get_time(self->session));
}

static PyObject *
session_get_timeout(tlsctx_session *self, void *closure)
{
    return PyLong_FromLong(SSL_SESSION_get_timeout(self->session));
}

static PyObject *
session_get_ticket_lifetime_hint(tlsctx_session *self, void *closure)
{
    return PyLong_FromUnsignedLong(SSL_SESSION_get_ticket_lifetime_hint(self->session));
}

static PyObject *
session_get_id(tlsctx_session *self, void *closure)
{
    unsigned int len;
    const unsigned char *id = SSL_SESSION_get_id(self->session, &len);
    return PyBytes_FromStringAndSize((const char *)id, len);
}

static PyObject *
session_get_has_ticket(tlsctx_session *self, void *closure)
{
    return PyBool_FromLong(SSL_SESSION_has_ticket(self->session));
}

static PyGetSetDef session_getset[] = {
    {"time", (getter)session_get_time, NULL, "Session creation time (seconds since epoch).", NULL},
    {"timeout", (getter)session_get_timeout, NULL, "Session timeout (delta in seconds).", NULL},
    {"ticket_lifetime_hint", (getter)session_get_ticket_lifetime_hint, NULL,
     "Ticket life time hint.", NULL},
    {"id", (getter)session_get_id, NULL, "Session ID.", NULL},
    {"has_ticket", (getter)session_get_has_ticket, NULL, "Does the session contain a ticket?",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot session_slots[] = {
    {Py_tp_dealloc, session_dealloc},
    {Py_tp_traverse, session_traverse},
    {Py_tp_clear, session_clear},
    {Py_tp_richcompare, session_richcompare},
    {Py_tp_getset, session_getset},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {0, NULL},
};

static PyType_Spec session_spec = {
    .name = "tlsctx.SSLSession",
    .basicsize = sizeof(tlsctx_session),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = session_slots,
};

int
tlsctx_setup_connection_types(PyObject *module, tlsctx_state *state)
{
    state->connection_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &conn_spec, NULL);
    if (state->connection_type == NULL) {
        return -1;
    }
    state->memory_bio_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &memory_bio_spec, NULL);
    if (state->memory_bio_type == NULL
        || PyModule_AddObjectRef(module, "MemoryBIO", (PyObject *)state->memory_bio_type) < 0) {
        return -1;
    }
    state->session_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &session_spec, NULL);
    if (state->session_type == NULL
        || PyModule_AddObjectRef(module, "SSLSession", (PyObject *)state->session_type) < 0
        || PyModule_AddObjectRef(module, "_SSLSocket", (PyObject *)state->connection_type) < 0) {
        return -1;
    }
    return 0;
}
