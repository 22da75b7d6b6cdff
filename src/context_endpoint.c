/* Endpoint configuration of a context: certificates and keys, ciphers,
 * ALPN, curves, DH parameters, SNI/PSK callbacks, key logging, tickets. */
#include "_tlsctx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/pem.h>

/* The context a callback running on `ssl` belongs to: the SSL_CTX the
 * connection uses now (SNI may have switched it), whose app data is the
 * tlsctx_context (borrowed; set in tlsctx_context_endpoint_init). */
static tlsctx_context *
context_of(const SSL *ssl)
{
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    return ctx != NULL ? (tlsctx_context *)SSL_CTX_get_app_data(ctx) : NULL;
}

int
tlsctx_context_endpoint_init(tlsctx_context *self)
{
    if (!SSL_CTX_set_app_data(self->ctx, self)) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    return 0;
}

void
tlsctx_context_endpoint_free(tlsctx_context *self)
{
    /* a connection may keep this SSL_CTX (as its session context) after
     * the Python object is gone: its callbacks must then find nothing */
    SSL_CTX_set_app_data(self->ctx, NULL);
    SSL_CTX_set_keylog_callback(self->ctx, NULL);
    if (self->keylog_bio != NULL) {
        BIO_free_all(self->keylog_bio);
        self->keylog_bio = NULL;
    }
    Py_CLEAR(self->alpn_protocols);
}

/* ---- passwords ------------------------------------------------------------ */

/* What the PEM password callback needs while OpenSSL runs without the GIL. */
typedef struct {
    PyObject *callable;          /* borrowed: a callable password, or NULL */
    char *password;              /* our copy, wiped before it is freed */
    int size;
    int error;                   /* a Python exception is set */
} password_info;

static void
password_wipe(password_info *pw)
{
    if (pw->password != NULL) {
        OPENSSL_cleanse(pw->password, (size_t)pw->size);
        PyMem_Free(pw->password);
        pw->password = NULL;
    }
    pw->size = 0;
}

/* Copy a str (UTF-8), bytes or bytearray password; TypeError `bad_type`
 * for anything else. */
static int
password_set(password_info *pw, PyObject *value, const char *bad_type)
{
    const char *data;
    Py_ssize_t size;
    if (PyUnicode_Check(value)) {
        /* the str's own UTF-8 buffer: no intermediate copy to forget */
        data = PyUnicode_AsUTF8AndSize(value, &size);
        if (data == NULL) {
            return -1;
        }
    }
    else if (PyBytes_Check(value)) {
        data = PyBytes_AS_STRING(value);
        size = PyBytes_GET_SIZE(value);
    }
    else if (PyByteArray_Check(value)) {
        data = PyByteArray_AS_STRING(value);
        size = PyByteArray_GET_SIZE(value);
    }
    else {
        PyErr_SetString(PyExc_TypeError, bad_type);
        return -1;
    }
    if (size > (Py_ssize_t)INT_MAX) {
        PyErr_Format(PyExc_ValueError, "password cannot be longer than %d bytes", INT_MAX);
        return -1;
    }
    password_wipe(pw);
    pw->password = PyMem_Malloc(size > 0 ? (size_t)size : 1);
    if (pw->password == NULL) {
        PyErr_SetString(PyExc_MemoryError, "unable to allocate password buffer");
        return -1;
    }
    memcpy(pw->password, data, (size_t)size);
    pw->size = (int)size;
    return 0;
}

/* pem_password_cb: runs inside OpenSSL while the GIL is released. */
/* No password was given: refuse, as CPython 3.15 does, without a prompt. */
static int
no_password_callback(char *buf, int size, int rwflag, void *userdata)
{
    return -1;
}

static int
password_callback(char *buf, int size, int rwflag, void *userdata)
{
    password_info *pw = userdata;
    tlsctx_call_frame *gil = tlsctx_callback_enter();
    /* OpenSSL 3 may ask again after a failure: do not call into Python
     * with an exception already set */
    if (pw->error) {
        goto error;
    }
    if (pw->callable != NULL) {
        PyObject *value = PyObject_CallNoArgs(pw->callable);
        if (value == NULL) {
            goto error;
        }
        int rc = password_set(pw, value, "password callback must return a string");
        Py_DECREF(value);
        if (rc < 0) {
            goto error;
        }
    }
    if (pw->size > size) {
        PyErr_Format(PyExc_ValueError, "password cannot be longer than %d bytes", size);
        goto error;
    }
    memcpy(buf, pw->password, (size_t)pw->size);
    tlsctx_callback_leave(gil);
    return pw->size;
error:
    pw->error = 1;
    tlsctx_callback_leave(gil);
    return -1;
}

/* ---- certificate chain and key ------------------------------------------- */

/* Bytes given in memory: a view of the caller's buffer, or of an ASCII str. */
typedef struct {
    Py_buffer view;
    const char *data;
    Py_ssize_t len;
    int is_text;
} memory_data;

static int
memory_data_get(PyObject *obj, const char *name, memory_data *out)
{
    if (PyUnicode_Check(obj)) {
        if (!PyUnicode_IS_ASCII(obj)) {
            goto bad_type;
        }
        /* ASCII str: its UTF-8 form is its own storage, nothing is copied */
        out->data = PyUnicode_AsUTF8AndSize(obj, &out->len);
        if (out->data == NULL) {
            return -1;
        }
        out->is_text = 1;
        if (out->len > INT_MAX) {
            PyErr_Format(PyExc_ValueError, "%s cannot be longer than %d bytes", name, INT_MAX);
            return -1;
        }
        return 0;
    }
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &out->view, PyBUF_SIMPLE) < 0) {
            return -1;
        }
        out->data = out->view.buf;
        out->len = out->view.len;
        /* OpenSSL's memory BIOs and DER readers count in int */
        if (out->len > INT_MAX) {
            PyErr_Format(PyExc_ValueError, "%s cannot be longer than %d bytes", name, INT_MAX);
            return -1;
        }
        return 0;
    }
bad_type:
    PyErr_Format(PyExc_TypeError, "%s should be an ASCII string or a bytes-like object", name);
    return -1;
}

static void
memory_data_release(memory_data *data)
{
    if (data->view.obj != NULL) {
        PyBuffer_Release(&data->view);
    }
}

/* PEM text is recognised by its armour; anything else may be DER. */
static int
looks_like_pem(const memory_data *data)
{
    static const char marker[] = "-----BEGIN ";
    size_t mlen = sizeof(marker) - 1;
    if (data->is_text) {
        return 1;
    }
    for (Py_ssize_t i = 0; i + (Py_ssize_t)mlen <= data->len; i++) {
        if (memcmp(data->data + i, marker, mlen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* What SSL_CTX_use_certificate_chain_file does, reading from a BIO: the
 * leaf, then every further certificate as its chain, with the same error
 * queue for the same bytes. */
static int
use_chain_pem_bio(SSL_CTX *ctx, BIO *in, pem_password_cb *cb, void *cb_data)
{
    X509 *leaf = NULL, *ca = NULL;
    int ok = 0;
    ERR_clear_error();
    leaf = PEM_read_bio_X509_AUX(in, NULL, cb, cb_data);
    if (leaf == NULL) {
        ERR_raise(ERR_LIB_SSL, ERR_R_PEM_LIB);
        goto done;
    }
    ok = SSL_CTX_use_certificate(ctx, leaf);
    if (ERR_peek_error() != 0) {
        ok = 0;
    }
    if (!ok || !SSL_CTX_clear_chain_certs(ctx)) {
        ok = 0;
        goto done;
    }
    while ((ca = PEM_read_bio_X509(in, NULL, cb, cb_data)) != NULL) {
        if (!SSL_CTX_add0_chain_cert(ctx, ca)) {
            X509_free(ca);
            ok = 0;
            goto done;
        }
    }
    /* the loop ends at the end of the data, which is not an error */
    unsigned long err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
    }
    else {
        ok = 0;
    }
done:
    X509_free(leaf);
    return ok;
}

/* certdata: one DER certificate, else PEM (leaf then chain). Bytes that are
 * not DER go through the PEM reader, so bad data fails as from a file. */
static int
use_chain_memory(SSL_CTX *ctx, const memory_data *data, pem_password_cb *cb,
                 void *cb_data)
{
    if (!looks_like_pem(data)) {
        const unsigned char *p = (const unsigned char *)data->data;
        X509 *cert = d2i_X509(NULL, &p, (long)data->len);
        if (cert != NULL && p == (const unsigned char *)data->data + data->len) {
            ERR_clear_error();
            int ok = SSL_CTX_use_certificate(ctx, cert) && SSL_CTX_clear_chain_certs(ctx);
            X509_free(cert);
            return ok;
        }
        X509_free(cert);
        ERR_clear_error();
    }
    BIO *in = BIO_new_mem_buf(data->data, (int)data->len);
    if (in == NULL) {
        return 0;
    }
    int ok = use_chain_pem_bio(ctx, in, cb, cb_data);
    BIO_free(in);
    return ok;
}

/* What SSL_CTX_use_PrivateKey_file does for PEM, reading from memory;
 * DER (PKCS#8, encrypted or not, or traditional) is tried first when the
 * bytes are not PEM, and falls back to the PEM reader's errors. */
static int
use_key_memory(SSL_CTX *ctx, const memory_data *data, pem_password_cb *cb, void *cb_data,
               const password_info *pw)
{
    EVP_PKEY *pkey = NULL;
    int ok = 0;
    if (!looks_like_pem(data)) {
        OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
            &pkey, "DER", NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
        if (dctx != NULL
            && (cb == NULL || OSSL_DECODER_CTX_set_pem_password_cb(dctx, cb, cb_data))) {
            const unsigned char *p = (const unsigned char *)data->data;
            size_t len = (size_t)data->len;
            if (!OSSL_DECODER_from_data(dctx, &p, &len)) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
        }
        OSSL_DECODER_CTX_free(dctx);
        if (pw->error) {
            goto done;
        }
        ERR_clear_error();
    }
    if (pkey == NULL) {
        BIO *in = BIO_new_mem_buf(data->data, (int)data->len);
        if (in == NULL) {
            goto done;
        }
        pkey = PEM_read_bio_PrivateKey_ex(in, NULL, cb, cb_data, NULL, NULL);
        BIO_free(in);
        if (pkey == NULL) {
            ERR_raise(ERR_LIB_SSL, ERR_R_PEM_LIB);
            goto done;
        }
    }
    ok = SSL_CTX_use_PrivateKey(ctx, pkey);
done:
    EVP_PKEY_free(pkey); /* frees (and clears) our reference only */
    return ok;
}

/* Where a certificate chain and its key come from. */
typedef struct {
    PyObject *certfile; /* bytes (filesystem encoding) or NULL */
    PyObject *keyfile;
    memory_data certdata;
    memory_data keydata;
    int has_certdata;
    int has_keydata;
} chain_source;

/* Turn an OpenSSL failure into the stdlib's exception: the password
 * callback's own, OSError from errno (naming the file, which the stdlib
 * leaves out), or SSLError from the queue. */
static void
raise_load_error(tlsctx_context *self, const password_info *pw, int saved_errno,
                 PyObject *failed_file)
{
    if (pw->error) {
        ERR_clear_error();
        return;
    }
    if (saved_errno != 0) {
        ERR_clear_error();
        PyObject *name = NULL;
        if (failed_file != NULL) {
            name = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(failed_file),
                                                    PyBytes_GET_SIZE(failed_file));
            if (name == NULL) {
                return;
            }
        }
        errno = saved_errno;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, name);
        Py_XDECREF(name);
        return;
    }
    tlsctx_set_ssl_error(self->state, NULL);
}

/* Load into a scratch SSL_CTX, with the same calls and so the same errors
 * as the stdlib, then move the result into the context in one step: a
 * failure leaves the context's certificates and keys as they were. */
static int
load_chain(tlsctx_context *self, chain_source *src, password_info *pw, int has_password)
{
    /* without a password an encrypted key fails to load: never OpenSSL's
     * default of prompting on the terminal (CPython 3.15 does the same) */
    pem_password_cb *cb = has_password ? password_callback : no_password_callback;
    void *cb_data = has_password ? pw : NULL;
    int ok, saved_errno = 0, rc = -1;
    PyObject *failed_file = NULL;   /* borrowed: the file errno is about */

    SSL_CTX *scratch = SSL_CTX_new(TLS_method());
    if (scratch == NULL) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    /* the context's limits, or a key it refuses would pass here */
    SSL_CTX_set_security_level(scratch, SSL_CTX_get_security_level(self->ctx));
    SSL_CTX_set_default_passwd_cb(scratch, cb);
    SSL_CTX_set_default_passwd_cb_userdata(scratch, cb_data);

    tlsctx_call_frame frame;
    tlsctx_release_gil(&frame, NULL);
    errno = 0;
    if (src->certfile != NULL) {
        ok = SSL_CTX_use_certificate_chain_file(scratch, PyBytes_AS_STRING(src->certfile));
    }
    else {
        ok = use_chain_memory(scratch, &src->certdata, cb, cb_data);
    }
    saved_errno = ok ? 0 : errno;
    failed_file = src->certfile;
    if (ok) {
        errno = 0;
        if (src->has_keydata) {
            ok = use_key_memory(scratch, &src->keydata, cb, cb_data, pw);
        }
        else if (src->has_certdata) {
            ok = use_key_memory(scratch, &src->certdata, cb, cb_data, pw);
        }
        else {
            PyObject *keyfile = src->keyfile != NULL ? src->keyfile : src->certfile;
            ok = SSL_CTX_use_PrivateKey_file(scratch, PyBytes_AS_STRING(keyfile),
                                             SSL_FILETYPE_PEM);
            failed_file = keyfile;
        }
        saved_errno = ok ? 0 : errno;
        /* a mismatch is reported from the queue alone, as the stdlib does */
        if (ok && !SSL_CTX_check_private_key(scratch)) {
            ok = 0;
        }
    }
    tlsctx_restore_gil(&frame);
    /* A password callback that raised fails the load even where OpenSSL
     * went on and succeeded without it (a key it could read anyway): the
     * exception is raised and the context stays as it was. */
    if (pw->error) {
        ok = 0;
    }
    /* the context itself only changes with the GIL held */
    if (ok) {
        STACK_OF(X509) *chain = NULL;
        SSL_CTX_get0_chain_certs(scratch, &chain);
        ok = SSL_CTX_use_cert_and_key(self->ctx, SSL_CTX_get0_certificate(scratch),
                                      SSL_CTX_get0_privatekey(scratch), chain, 1);
    }
    if (!ok) {
        raise_load_error(self, pw, saved_errno, failed_file);
        goto done;
    }
    rc = 0;
done:
    SSL_CTX_free(scratch);
    return rc;
}

static int
filename_argument(PyObject *obj, const char *name, PyObject **out)
{
    if (!PyUnicode_FSConverter(obj, out)) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "%s should be a valid filesystem path", name);
        }
        return -1;
    }
    return 0;
}

PyObject *
tlsctx_context_load_cert_chain(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"certfile", "keyfile", "password", "certdata", "keydata", NULL};
    PyObject *certfile = NULL, *keyfile = Py_None, *password = Py_None;
    PyObject *certdata = Py_None, *keydata = Py_None;
    chain_source src;
    password_info pw;
    PyObject *result = NULL;

    memset(&src, 0, sizeof(src));
    memset(&pw, 0, sizeof(pw));
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO$OO:load_cert_chain", keywords,
                                     &certfile, &keyfile, &password, &certdata, &keydata)) {
        return NULL;
    }
    /* exactly one source for the chain; memory keys go with memory chains */
    if (certdata != Py_None) {
        if (certfile != NULL && certfile != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "load_cert_chain() takes certfile or certdata, not both");
            return NULL;
        }
        if (keyfile != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "load_cert_chain() takes keydata, not keyfile, with certdata");
            return NULL;
        }
    }
    else if (keydata != Py_None) {
        PyErr_SetString(PyExc_TypeError, "load_cert_chain() takes keydata only with certdata");
        return NULL;
    }
    else if (certfile == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "load_cert_chain() missing required argument: certfile or certdata");
        return NULL;
    }

    if (certdata == Py_None) {
        if (filename_argument(certfile, "certfile", &src.certfile) < 0) {
            goto done;
        }
        if (keyfile != Py_None && filename_argument(keyfile, "keyfile", &src.keyfile) < 0) {
            goto done;
        }
    }
    else {
        if (memory_data_get(certdata, "certdata", &src.certdata) < 0) {
            goto done;
        }
        src.has_certdata = 1;
        if (keydata != Py_None) {
            if (memory_data_get(keydata, "keydata", &src.keydata) < 0) {
                goto done;
            }
            src.has_keydata = 1;
        }
    }
    if (password != Py_None) {
        if (PyCallable_Check(password)) {
            pw.callable = password;
        }
        else if (password_set(&pw, password, "password should be a string or callable") < 0) {
            goto done;
        }
    }
    if (load_chain(self, &src, &pw, password != Py_None) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    password_wipe(&pw);
    memory_data_release(&src.certdata);
    memory_data_release(&src.keydata);
    Py_XDECREF(src.certfile);
    Py_XDECREF(src.keyfile);
    return result;
}

/* ---- ciphers ------------------------------------------------------------- */

PyObject *
tlsctx_context_set_ciphers(tlsctx_context *self, PyObject *arg)
{
    Py_ssize_t len;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "set_ciphers() argument must be str, not %.50s",
                     arg == Py_None ? "None" : Py_TYPE(arg)->tp_name);
        return NULL;
    }
    const char *list = PyUnicode_AsUTF8AndSize(arg, &len);
    if (list == NULL) {
        return NULL;
    }
    if (strlen(list) != (size_t)len) {
        PyErr_SetString(PyExc_ValueError, "embedded null character");
        return NULL;
    }
    if (!SSL_CTX_set_cipher_list(self->ctx, list)) {
        /* the stdlib reports this without the queue's library and reason */
        ERR_clear_error();
        PyErr_SetString(self->state->SSLError, "No cipher can be selected.");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
nid_long_name(int nid)
{
    const char *name = nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(name);
}

static PyObject *
cipher_to_dict(const SSL_CIPHER *cipher)
{
    char description[512];
    int alg_bits = 0;
    PyObject *result = NULL;
    PyObject *symmetric = NULL, *digest = NULL, *kea = NULL, *auth = NULL;

    SSL_CIPHER_description(cipher, description, sizeof(description) - 1);
    size_t len = strlen(description);
    if (len > 1 && description[len - 1] == '\n') {
        description[len - 1] = '\0';
    }
    int strength_bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
    symmetric = nid_long_name(SSL_CIPHER_get_cipher_nid(cipher));
    digest = nid_long_name(SSL_CIPHER_get_digest_nid(cipher));
    kea = nid_long_name(SSL_CIPHER_get_kx_nid(cipher));
    auth = nid_long_name(SSL_CIPHER_get_auth_nid(cipher));
    if (symmetric == NULL || digest == NULL || kea == NULL || auth == NULL) {
        goto done;
    }
    result = Py_BuildValue("{sksssssssisisOsOsOsOsO}",
                           "id", (unsigned long)SSL_CIPHER_get_id(cipher),
                           "name", SSL_CIPHER_get_name(cipher),
                           "protocol", SSL_CIPHER_get_version(cipher),
                           "description", description,
                           "strength_bits", strength_bits,
                           "alg_bits", alg_bits,
                           "aead", SSL_CIPHER_is_aead(cipher) ? Py_True : Py_False,
                           "symmetric", symmetric,
                           "digest", digest,
                           "kea", kea,
                           "auth", auth);
done:
    Py_XDECREF(symmetric);
    Py_XDECREF(digest);
    Py_XDECREF(kea);
    Py_XDECREF(auth);
    return result;
}

PyObject *
tlsctx_context_get_ciphers(tlsctx_context *self, PyObject *unused)
{
    /* the effective list, TLS 1.3 suites included, is a connection's */
    SSL *ssl = SSL_new(self->ctx);
    if (ssl == NULL) {
        return tlsctx_set_ssl_error(self->state, NULL);
    }
    STACK_OF(SSL_CIPHER) *ciphers = SSL_get_ciphers(ssl);
    PyObject *result = PyList_New(0);
    for (int i = 0; result != NULL && i < sk_SSL_CIPHER_num(ciphers); i++) {
        PyObject *item = cipher_to_dict(sk_SSL_CIPHER_value(ciphers, i));
        if (item == NULL || PyList_Append(result, item) < 0) {
            Py_CLEAR(result);
        }
        Py_XDECREF(item);
    }
    SSL_free(ssl);
    return result;
}

/* ---- ALPN ---------------------------------------------------------------- */

/* Server side: the first of our protocols the client also offers. Runs
 * without the GIL and needs none: it reads the immutable list its
 * connection pinned, which set_alpn_protocols() cannot free. */
static int
alpn_select_callback(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned int ours_len;
    const unsigned char *ours = tlsctx_connection_alpn(ssl, &ours_len);
    if (in == NULL) {
        in = (const unsigned char *)"";
        inlen = 0;
    }
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, ours_len, in, inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

PyObject *
tlsctx_context_set_alpn_protocols(tlsctx_context *self, PyObject *arg)
{
    Py_buffer view;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "a bytes-like object is required, not '%.100s'",
                         Py_TYPE(arg)->tp_name);
        }
        return NULL;
    }
    if ((size_t)view.len > UINT_MAX) {
        PyErr_Format(PyExc_OverflowError, "protocols longer than %u bytes", UINT_MAX);
        goto done;
    }
    /* immutable once made: connections keep a reference of their own */
    PyObject *copy = PyBytes_FromStringAndSize(view.buf, view.len);
    if (copy == NULL) {
        goto done;
    }
    /* OpenSSL keeps its own copy for the client side (and each SSL another) */
    if (SSL_CTX_set_alpn_protos(self->ctx, (const unsigned char *)PyBytes_AS_STRING(copy),
                                (unsigned int)view.len) != 0) {
        Py_DECREF(copy);
        ERR_clear_error();
        PyErr_NoMemory();
        goto done;
    }
    tlsctx_locked_set(&self->lock, &self->alpn_protocols, copy);
    SSL_CTX_set_alpn_select_cb(self->ctx, alpn_select_callback, NULL);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    return result;
}

/* ---- key exchange ---------------------------------------------------------- */

PyObject *
tlsctx_context_set_ecdh_curve(tlsctx_context *self, PyObject *arg)
{
    PyObject *name = NULL;
    if (!PyUnicode_FSConverter(arg, &name)) {
        return NULL;
    }
    int nid = OBJ_sn2nid(PyBytes_AS_STRING(name));
    Py_DECREF(name);
    if (nid == NID_undef) {
        PyErr_Format(PyExc_ValueError, "unknown elliptic curve name %R", arg);
        return NULL;
    }
    if (!SSL_CTX_set1_groups(self->ctx, &nid, 1)) {
        return tlsctx_set_ssl_error(self->state, NULL);
    }
    Py_RETURN_NONE;
}

/* PEM "DH PARAMETERS" (or X9.42) as PEM_read_DHparams reads them, with the
 * same errors, through OpenSSL 3's non-deprecated calls. */
static EVP_PKEY *
read_dh_params(BIO *in)
{
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    EVP_PKEY *params = NULL;
    if (!PEM_bytes_read_bio(&der, &len, &name, PEM_STRING_DHPARAMS, in, NULL, NULL)) {
        return NULL;
    }
    int type = strcmp(name, PEM_STRING_DHXPARAMS) == 0 ? EVP_PKEY_DHX : EVP_PKEY_DH;
    const unsigned char *p = der;
    params = d2i_KeyParams(type, NULL, &p, len);
    if (params == NULL) {
        ERR_raise(ERR_LIB_PEM, ERR_R_ASN1_LIB);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    return params;
}

PyObject *
tlsctx_context_load_dh_params(tlsctx_context *self, PyObject *arg)
{
    PyObject *path = NULL;
    EVP_PKEY *params = NULL;
    PyObject *result = NULL;
    if (!PyUnicode_FSConverter(arg, &path)) {
        return NULL;
    }
    if (PySys_Audit("open", "Osi", arg, "rb", 0) < 0) {
        goto done;
    }
    FILE *f;
    do {
        Py_BEGIN_ALLOW_THREADS
        f = fopen(PyBytes_AS_STRING(path), "rbe");
        Py_END_ALLOW_THREADS
    } while (f == NULL && errno == EINTR && !PyErr_CheckSignals());
    if (f == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
        }
        goto done;
    }
    BIO *in = BIO_new_fp(f, BIO_CLOSE);
    if (in == NULL) {
        fclose(f);
        tlsctx_set_ssl_error(self->state, NULL);
        goto done;
    }
    int saved_errno;
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    params = read_dh_params(in);
    saved_errno = errno;
    BIO_free(in);
    Py_END_ALLOW_THREADS
    if (params == NULL) {
        if (saved_errno != 0) {
            ERR_clear_error();
            errno = saved_errno;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
        }
        else {
            tlsctx_set_ssl_error(self->state, NULL);
        }
        goto done;
    }
    /* takes the parameters on success only */
    if (!SSL_CTX_set0_tmp_dh_pkey(self->ctx, params)) {
        tlsctx_set_ssl_error(self->state, NULL);
        goto done;
    }
    params = NULL;
    result = Py_NewRef(Py_None);
done:
    EVP_PKEY_free(params);
    Py_XDECREF(path);
    return result;
}

/* ---- session statistics and tickets ------------------------------------- */

PyObject *
tlsctx_context_session_stats(tlsctx_context *self, PyObject *unused)
{
    SSL_CTX *ctx = self->ctx;
    return Py_BuildValue("{slslslslslslslslslslsl}",
                         "number", SSL_CTX_sess_number(ctx),
                         "connect", SSL_CTX_sess_connect(ctx),
                         "connect_good", SSL_CTX_sess_connect_good(ctx),
                         "connect_renegotiate", SSL_CTX_sess_connect_renegotiate(ctx),
                         "accept", SSL_CTX_sess_accept(ctx),
                         "accept_good", SSL_CTX_sess_accept_good(ctx),
                         "accept_renegotiate", SSL_CTX_sess_accept_renegotiate(ctx),
                         "hits", SSL_CTX_sess_hits(ctx),
                         "misses", SSL_CTX_sess_misses(ctx),
                         "timeouts", SSL_CTX_sess_timeouts(ctx),
                         "cache_full", SSL_CTX_sess_cache_full(ctx));
}

PyObject *
tlsctx_context_get_num_tickets(tlsctx_context *self, void *closure)
{
    return PyLong_FromSize_t(SSL_CTX_get_num_tickets(self->ctx));
}

int
tlsctx_context_set_num_tickets(tlsctx_context *self, PyObject *value, void *closure)
{
    long count;
    REJECT_DELETE_NAMED(self, value, "num_tickets");
    if (!PyArg_Parse(value, "l", &count)) {
        return -1;
    }
    if (count < 0) {
        PyErr_SetString(PyExc_ValueError, "value must be non-negative");
        return -1;
    }
    if (self->protocol != TLSCTX_PROTO_TLS_SERVER) {
        PyErr_SetString(PyExc_ValueError, "SSLContext is not a server context.");
        return -1;
    }
    if (SSL_CTX_set_num_tickets(self->ctx, (size_t)count) != 1) {
        ERR_clear_error();
        PyErr_SetString(PyExc_ValueError, "failed to set num tickets.");
        return -1;
    }
    return 0;
}

/* ---- reporting a callback's exception ---------------------------------- */

/* What CPython 3.14 does with an exception raised inside an SNI or PSK
 * callback, on every interpreter: sys.unraisablehook gets it with
 * err_msg "Exception ignored in ssl ... while calling ... <callback>" and
 * object None (before 3.14: err_msg None and the callback as object).
 * `format` takes one %R argument (or none, `arg` NULL). Clears the exception. */
static void
report_unraisable(const char *format, PyObject *arg)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyErr_FormatUnraisable(format, arg);
#else
    /* PyErr_FormatUnraisable is public from 3.13: build its hook arguments */
    PyObject *type, *value, *tb, *types = NULL, *args = NULL, *result = NULL;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *message = PyUnicode_FromFormat(format, arg);
    PyObject *hook = PySys_GetObject("unraisablehook");              /* borrowed */
    PyObject *default_hook = PySys_GetObject("__unraisablehook__");  /* borrowed */
    if (message == NULL) {
        goto fallback;
    }
    if (hook != NULL && hook != default_hook) {
        types = PyImport_ImportModule("types");
        PyObject *kwargs = types == NULL ? NULL
            : Py_BuildValue("{sOsOsOsOsO}", "exc_type", type, "exc_value", value,
                            "exc_traceback", tb != NULL ? tb : Py_None, "err_msg", message,
                            "object", Py_None);
        if (kwargs != NULL) {
            PyObject *namespace = PyObject_GetAttrString(types, "SimpleNamespace");
            PyObject *empty = PyTuple_New(0);
            if (namespace != NULL && empty != NULL) {
                args = PyObject_Call(namespace, empty, kwargs);
            }
            Py_XDECREF(namespace);
            Py_XDECREF(empty);
            Py_DECREF(kwargs);
        }
        if (args == NULL) {
            goto fallback;
        }
        result = PyObject_CallOneArg(hook, args);
        if (result == NULL) {
            PyErr_WriteUnraisable(hook);
        }
        goto done;
    }
    /* the default hook's output: the message, then the traceback */
    {
        PyObject *line = PyUnicode_FromFormat("%U:\n", message);
        PyObject *err = PySys_GetObject("stderr");
        if (line != NULL && err != NULL && err != Py_None) {
            PyFile_WriteObject(line, err, Py_PRINT_RAW);
        }
        Py_XDECREF(line);
        PyErr_Clear();
        PyErr_Display(type, value, tb);
        goto done;
    }
fallback:
    PyErr_Clear();
    PyErr_Restore(type, value, tb);
    type = value = tb = NULL;
    PyErr_WriteUnraisable(arg);
done:
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_XDECREF(message);
    Py_XDECREF(types);
    Py_XDECREF(args);
    Py_XDECREF(result);
#endif
}

/* ---- SNI ----------------------------------------------------------------- */

/* The user callback's answer: None goes on, an int is the alert to send. */
static int
sni_result(PyObject *result, int *alert)
{
    if (result == Py_None) {
        return SSL_TLSEXT_ERR_OK;
    }
    long value = PyLong_AsLong(result);
    if (value == -1 && PyErr_Occurred()) {
        report_unraisable("Exception ignored in ssl servername callback "
                          "while calling set SNI callback (result=%R)", result);
        *alert = SSL_AD_INTERNAL_ERROR;
    }
    else {
        *alert = (int)value;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* OpenSSL's servername callback (server side, during a handshake made
 * without the GIL): calls the context's sni_callback with (the connection's
 * Python object, the server name as an A-label str or None, the context). */
static int
servername_callback(SSL *ssl, int *alert, void *arg)
{
    int rc = SSL_TLSEXT_ERR_ALERT_FATAL;
    PyObject *callback = NULL, *conn = NULL, *name = NULL, *result = NULL;
    const char *servername = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    tlsctx_call_frame *gil = tlsctx_callback_enter();

    tlsctx_context *self = context_of(ssl);
    /* the callback may replace itself or the context: keep both alive */
    callback = self != NULL ? tlsctx_locked_get(&self->lock, &self->sni_callback) : NULL;
    if (callback == NULL) {
        /* removed while this handshake was under way */
        rc = SSL_TLSEXT_ERR_OK;
        goto done;
    }
    Py_INCREF(self);
    *alert = SSL_AD_INTERNAL_ERROR;
    conn = tlsctx_connection_for_callback(ssl);
    if (conn == NULL) {
        /* an error, or the connection's owner is gone: fail the handshake */
        if (PyErr_Occurred()) {
            report_unraisable("Exception ignored in ssl servername callback", NULL);
        }
        goto release;
    }
    if (servername == NULL) {
        name = Py_NewRef(Py_None);
    }
    else {
        /* the client sent an A-label: it stays one, as a str */
        name = PyUnicode_DecodeASCII(servername, (Py_ssize_t)strlen(servername), "strict");
        if (name == NULL) {
            PyObject *raw = PyBytes_FromString(servername);
            report_unraisable("Exception ignored in ssl servername callback "
                              "while decoding name %R", raw != NULL ? raw : Py_None);
            Py_XDECREF(raw);
            goto release;
        }
    }
    result = PyObject_CallFunctionObjArgs(callback, conn, name, (PyObject *)self, NULL);
    if (result == NULL) {
        report_unraisable("Exception ignored in ssl servername callback "
                          "while calling set SNI callback %R", callback);
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        goto release;
    }
    rc = sni_result(result, alert);
release:
    Py_XDECREF(result);
    Py_XDECREF(name);
    Py_XDECREF(conn);
    Py_DECREF(callback);
    Py_DECREF(self);
done:
    tlsctx_callback_leave(gil);
    return rc;
}

int
tlsctx_context_set_sni_callback(tlsctx_context *self, PyObject *value, void *closure)
{
    REJECT_DELETE_NAMED(self, value, "sni_callback");
    if (self->protocol == TLSCTX_PROTO_TLS_CLIENT) {
        PyErr_SetString(PyExc_ValueError, "sni_callback cannot be set on TLS_CLIENT context");
        return -1;
    }
    if (value != Py_None && !PyCallable_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "not a callable object");
        return -1;
    }
    if (value == Py_None) {
        SSL_CTX_set_tlsext_servername_callback(self->ctx, NULL);
        tlsctx_locked_set(&self->lock, &self->sni_callback, NULL);
        return 0;
    }
    tlsctx_locked_set(&self->lock, &self->sni_callback, Py_NewRef(value));
    SSL_CTX_set_tlsext_servername_callback(self->ctx, servername_callback);
    SSL_CTX_set_tlsext_servername_arg(self->ctx, self);
    return 0;
}

PyObject *
tlsctx_context_get_sni_callback(tlsctx_context *self, void *closure)
{
    PyObject *callback = tlsctx_locked_get(&self->lock, &self->sni_callback);
    return callback != NULL ? callback : Py_NewRef(Py_None);
}

/* ---- PSK ----------------------------------------------------------------- */

/* The peer's identity or hint as str, None when absent; NULL (no exception)
 * when it is not UTF-8: the connection is dropped without a Python error. */
static PyObject *
psk_text(const char *text)
{
    if (text == NULL || text[0] == '\0') {
        return Py_NewRef(Py_None);
    }
    PyObject *str = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "strict");
    if (str == NULL) {
        PyErr_Clear();
    }
    return str;
}

/* A key (or identity) longer than OpenSSL's buffer fails the handshake, and
 * says why (ValueError, through the unraisable hook as the callback's own
 * errors) instead of failing silently. */
static int
psk_check_length(const char *what, Py_ssize_t len, unsigned int max)
{
    if ((size_t)len > max) {
        PyErr_Format(PyExc_ValueError, "%s must be at most %u bytes, not %zd", what, max, len);
        return -1;
    }
    return 0;
}

static unsigned int
psk_client_callback(SSL *ssl, const char *hint, char *identity, unsigned int max_identity_len,
                    unsigned char *psk, unsigned int max_psk_len)
{
    unsigned int rc = 0;
    PyObject *callback = NULL, *hint_obj = NULL, *result = NULL;
    tlsctx_call_frame *gil = tlsctx_callback_enter();

    tlsctx_context *self = context_of(ssl);
    callback = self != NULL ? tlsctx_locked_get(&self->lock, &self->psk_client_callback) : NULL;
    if (callback == NULL) {
        goto done;
    }
    hint_obj = psk_text(hint);
    if (hint_obj == NULL) {
        goto done;
    }
    result = PyObject_CallOneArg(callback, hint_obj);
    if (result == NULL) {
        goto done;
    }
    const char *identity_data, *psk_data;
    Py_ssize_t identity_len = 0, psk_len;
    if (!PyArg_ParseTuple(result, "z#y#", &identity_data, &identity_len, &psk_data, &psk_len)) {
        goto done;
    }
    /* the identity is NUL-terminated in OpenSSL's buffer */
    if (psk_check_length("psk_identity", identity_len,
                         max_identity_len > 0 ? max_identity_len - 1 : 0) < 0
        || psk_check_length("psk", psk_len, max_psk_len) < 0) {
        goto done;
    }
    memcpy(psk, psk_data, (size_t)psk_len);
    if (identity_data != NULL) {
        memcpy(identity, identity_data, (size_t)identity_len);
    }
    identity[identity_len] = '\0';
    rc = (unsigned int)psk_len;
done:
    if (PyErr_Occurred()) {
        report_unraisable("Exception ignored in ssl PSK client callback "
                          "while calling callback %R", callback);
    }
    Py_XDECREF(result);
    Py_XDECREF(hint_obj);
    Py_XDECREF(callback);
    tlsctx_callback_leave(gil);
    return rc;
}

static unsigned int
psk_server_callback(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max_psk_len)
{
    unsigned int rc = 0;
    PyObject *callback = NULL, *identity_obj = NULL, *result = NULL;
    tlsctx_call_frame *gil = tlsctx_callback_enter();

    tlsctx_context *self = context_of(ssl);
    callback = self != NULL ? tlsctx_locked_get(&self->lock, &self->psk_server_callback) : NULL;
    if (callback == NULL) {
        goto done;
    }
    identity_obj = psk_text(identity);
    if (identity_obj == NULL) {
        goto done;
    }
    result = PyObject_CallOneArg(callback, identity_obj);
    if (result == NULL) {
        goto done;
    }
    char *psk_data;
    Py_ssize_t psk_len;
    if (PyBytes_AsStringAndSize(result, &psk_data, &psk_len) < 0) {
        goto done;
    }
    if (psk_check_length("psk", psk_len, max_psk_len) < 0) {
        goto done;
    }
    memcpy(psk, psk_data, (size_t)psk_len);
    rc = (unsigned int)psk_len;
done:
    if (PyErr_Occurred()) {
        report_unraisable("Exception ignored in ssl PSK server callback "
                          "while calling callback %R", callback);
    }
    Py_XDECREF(result);
    Py_XDECREF(identity_obj);
    Py_XDECREF(callback);
    tlsctx_callback_leave(gil);
    return rc;
}

PyObject *
tlsctx_context_set_psk_client_callback(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"callback", NULL};
    PyObject *callback;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:set_psk_client_callback", keywords,
                                     &callback)) {
        return NULL;
    }
    if (self->protocol == TLSCTX_PROTO_TLS_SERVER) {
        return tlsctx_set_ssl_error(
            self->state, "Cannot add PSK client callback to a PROTOCOL_TLS_SERVER context");
    }
    if (callback != Py_None && !PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable");
        return NULL;
    }
    tlsctx_locked_set(&self->lock, &self->psk_client_callback,
                      callback == Py_None ? NULL : Py_NewRef(callback));
    SSL_CTX_set_psk_client_callback(self->ctx, callback == Py_None ? NULL : psk_client_callback);
    Py_RETURN_NONE;
}

PyObject *
tlsctx_context_set_psk_server_callback(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"callback", "identity_hint", NULL};
    PyObject *callback, *hint_obj = Py_None;
    const char *hint = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:set_psk_server_callback", keywords,
                                     &callback, &hint_obj)) {
        return NULL;
    }
    if (hint_obj != Py_None) {
        Py_ssize_t len;
        if (!PyUnicode_Check(hint_obj)) {
            PyErr_Format(PyExc_TypeError,
                         "set_psk_server_callback() argument 'identity_hint' must be str or "
                         "None, not %.50s", Py_TYPE(hint_obj)->tp_name);
            return NULL;
        }
        hint = PyUnicode_AsUTF8AndSize(hint_obj, &len);
        if (hint == NULL) {
            return NULL;
        }
        if (strlen(hint) != (size_t)len) {
            PyErr_SetString(PyExc_ValueError, "embedded null character");
            return NULL;
        }
    }
    if (self->protocol == TLSCTX_PROTO_TLS_CLIENT) {
        return tlsctx_set_ssl_error(
            self->state, "Cannot add PSK server callback to a PROTOCOL_TLS_CLIENT context");
    }
    if (callback != Py_None && !PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable");
        return NULL;
    }
    if (SSL_CTX_use_psk_identity_hint(self->ctx, hint) != 1) {
        ERR_clear_error();
        PyErr_SetString(PyExc_ValueError, "failed to set identity hint");
        return NULL;
    }
    tlsctx_locked_set(&self->lock, &self->psk_server_callback,
                      callback == Py_None ? NULL : Py_NewRef(callback));
    SSL_CTX_set_psk_server_callback(self->ctx, callback == Py_None ? NULL : psk_server_callback);
    Py_RETURN_NONE;
}

/* ---- key logging --------------------------------------------------------- */

/* OpenSSL's keylog callback: one NSS key-log line per secret, during a
 * handshake made without the GIL. The GIL is taken for the whole write:
 * it is what keeps the setter from closing the file under us. */
static void
keylog_callback(const SSL *ssl, const char *line)
{
    tlsctx_call_frame *gil = tlsctx_callback_enter();
    tlsctx_context *self = context_of(ssl);
    if (self != NULL && self->keylog_bio != NULL) {
        errno = 0;
        int written = BIO_printf(self->keylog_bio, "%s\n", line);
        int saved_errno = errno;
        (void)BIO_flush(self->keylog_bio);
        if (written < 0) {
            errno = saved_errno != 0 ? saved_errno : EIO;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, self->keylog_filename);
            tlsctx_connection_stash_exception((SSL *)ssl);
        }
    }
    tlsctx_callback_leave(gil);
}

/* Open for append; a file created here is readable by its owner only,
 * since it will hold session secrets. */
static FILE *
open_keylog(PyObject *path)
{
    PyObject *bytes = NULL;
    FILE *fp = NULL;
    int fd;
    if (!PyUnicode_FSConverter(path, &bytes)) {
        return NULL;
    }
    if (PySys_Audit("open", "Osi", path, "a", 0) < 0) {
        goto done;
    }
    do {
        Py_BEGIN_ALLOW_THREADS
        fd = open(PyBytes_AS_STRING(bytes), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        Py_END_ALLOW_THREADS
    } while (fd < 0 && errno == EINTR && !PyErr_CheckSignals());
    if (fd < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        }
        goto done;
    }
    /* start at the end, as fopen(path, "a") does, so that the header test
     * sees a non-empty file as such; pipes cannot seek and need not */
    (void)lseek(fd, 0, SEEK_END);
    fp = fdopen(fd, "a");
    if (fp == NULL) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        close(fd);
    }
done:
    Py_XDECREF(bytes);
    return fp;
}

int
tlsctx_context_set_keylog_filename(tlsctx_context *self, PyObject *value, void *closure)
{
    BIO *bio = NULL;
    REJECT_DELETE_NAMED(self, value, "keylog_filename");
    if (value != Py_None) {
        /* open the new file first: a failure keeps the current log */
        FILE *fp = open_keylog(value);
        if (fp == NULL) {
            return -1;
        }
        bio = BIO_new_fp(fp, BIO_CLOSE | BIO_FP_TEXT);
        if (bio == NULL) {
            fclose(fp);
            ERR_clear_error();
            PyErr_SetString(self->state->SSLError, "Can't malloc memory for keylog file");
            return -1;
        }
        /* a header on empty, seekable files (not on pipes) */
        Py_BEGIN_ALLOW_THREADS
        if (BIO_tell(bio) == 0) {
            BIO_puts(bio, "# TLS secrets log file, generated by OpenSSL / Python\n");
            (void)BIO_flush(bio);
        }
        Py_END_ALLOW_THREADS
        ERR_clear_error();
    }
    SSL_CTX_set_keylog_callback(self->ctx, NULL);
    BIO *old = self->keylog_bio;
    self->keylog_bio = bio;
    Py_XSETREF(self->keylog_filename, value == Py_None ? NULL : Py_NewRef(value));
    if (old != NULL) {
        BIO_free_all(old);
    }
    if (bio != NULL) {
        SSL_CTX_set_keylog_callback(self->ctx, keylog_callback);
    }
    return 0;
}

PyObject *
tlsctx_context_get_keylog_filename(tlsctx_context *self, void *closure)
{
    return Py_NewRef(self->keylog_filename ? self->keylog_filename : Py_None);
}

/* ---- the message callback (SSLContext._msg_callback) --------------------- */

/* OpenSSL's message callback, for every protocol message a connection sends
 * or receives (maybe without the GIL): calls the context's _msg_callback with
 * (the connection's Python object, "read" or "write", version, content type,
 * message type, the message bytes). An exception it raises is re-raised when
 * the OpenSSL call returns. */
static void
msg_callback(int write_p, int version, int content_type, const void *buf, size_t len,
             SSL *ssl, void *arg)
{
    const unsigned char *bytes = buf;
    PyObject *callback = NULL, *conn = NULL, *result = NULL;
    tlsctx_call_frame *gil = tlsctx_callback_enter();
    tlsctx_context *self = context_of(ssl);
    callback = self != NULL ? tlsctx_locked_get(&self->lock, &self->msg_callback) : NULL;
    if (callback == NULL) {
        goto done;
    }
    /* the message type, where the stdlib's reads it: never application data */
    int msg_type = -1;
    switch (content_type) {
    case SSL3_RT_CHANGE_CIPHER_SPEC:
        msg_type = SSL3_MT_CHANGE_CIPHER_SPEC;
        break;
    case SSL3_RT_ALERT:
        /* level, then description */
        msg_type = len > 1 ? bytes[1] : -1;
        break;
    case SSL3_RT_HEADER:
        /* the record header: type, then the header's version */
        if (len > 2) {
            msg_type = bytes[0];
            version = bytes[1] << 8 | bytes[2];
        }
        break;
    case SSL3_RT_HANDSHAKE:
    case SSL3_RT_INNER_CONTENT_TYPE:
        msg_type = len > 0 ? bytes[0] : -1;
        break;
    default:
        break;
    }
    conn = tlsctx_connection_for_callback(ssl);
    if (conn != NULL) {
        result = PyObject_CallFunction(callback, "Osiiiy#", conn, write_p ? "write" : "read",
                                       version, content_type, msg_type, buf, (Py_ssize_t)len);
    }
    if (result == NULL && PyErr_Occurred()) {   /* else the owner is gone: no call */
        tlsctx_connection_stash_exception(ssl);
    }
    Py_XDECREF(result);
    Py_XDECREF(conn);
    Py_DECREF(callback);
done:
    tlsctx_callback_leave(gil);
}

PyObject *
tlsctx_context_get_msg_callback(tlsctx_context *self, void *closure)
{
    return Py_NewRef(self->msg_callback ? self->msg_callback : Py_None);
}

int
tlsctx_context_set_msg_callback(tlsctx_context *self, PyObject *value, void *closure)
{
    REJECT_DELETE(value);
    if (value != Py_None && !PyCallable_Check(value)) {
        SSL_CTX_set_msg_callback(self->ctx, NULL);
        tlsctx_locked_set(&self->lock, &self->msg_callback, NULL);
        PyErr_SetString(PyExc_TypeError, "not a callable object");
        return -1;
    }
    tlsctx_locked_set(&self->lock, &self->msg_callback,
                      value == Py_None ? NULL : Py_NewRef(value));
    SSL_CTX_set_msg_callback(self->ctx, value == Py_None ? NULL : msg_callback);
    return 0;
}

/* ---- test hook ----------------------------------------------------------- */

static PyObject *
der_of_cert(X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len < 0) {
        return NULL;
    }
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)der, len);
    OPENSSL_free(der);
    return bytes;
}

/* What load_cert_chain left in the current certificate slot, for tests:
 * (leaf DER or None, [chain DER], DER SubjectPublicKeyInfo of the private
 * key or None). Only public material leaves the context. */
PyObject *
tlsctx_context_loaded_chain(tlsctx_context *self, PyObject *unused)
{
    PyObject *leaf = NULL, *chain = NULL, *pub = NULL, *result = NULL;
    X509 *cert = SSL_CTX_get0_certificate(self->ctx);
    EVP_PKEY *key = SSL_CTX_get0_privatekey(self->ctx);
    STACK_OF(X509) *certs = NULL;

    leaf = cert != NULL ? der_of_cert(cert) : Py_NewRef(Py_None);
    chain = PyList_New(0);
    if (leaf == NULL || chain == NULL) {
        goto error;
    }
    if (cert != NULL && SSL_CTX_get0_chain_certs(self->ctx, &certs) && certs != NULL) {
        for (int i = 0; i < sk_X509_num(certs); i++) {
            PyObject *item = der_of_cert(sk_X509_value(certs, i));
            if (item == NULL || PyList_Append(chain, item) < 0) {
                Py_XDECREF(item);
                goto error;
            }
            Py_DECREF(item);
        }
    }
    if (key != NULL) {
        unsigned char *der = NULL;
        int len = i2d_PUBKEY(key, &der);
        if (len < 0) {
            goto error;
        }
        pub = PyBytes_FromStringAndSize((const char *)der, len);
        OPENSSL_free(der);
        if (pub == NULL) {
            goto error;
        }
    }
    else {
        pub = Py_NewRef(Py_None);
    }
    result = PyTuple_Pack(3, leaf, chain, pub);
    goto done;
error:
    if (!PyErr_Occurred()) {
        tlsctx_set_ssl_error(self->state, NULL);
    }
done:
    ERR_clear_error();
    Py_XDECREF(leaf);
    Py_XDECREF(chain);
    Py_XDECREF(pub);
    return result;
}
