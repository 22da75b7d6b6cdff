/* Certificate objects (the stdlib's _ssl.Certificate, CPython 3.10+) and the
 * RAND_* functions of the ssl module.
 *
 * A Certificate holds one reference to an X509; the connection's
 * get_verified_chain() / get_unverified_chain() hand out lists of them.
 * Equality is X509_cmp, the hash is the subject name hash, as the stdlib's. */
#include "_tlsctx.h"

#include <limits.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* the stdlib's PY_SSL_ENCODING_* values (ENCODING_PEM / ENCODING_DER in constants.c) */
#define TLSCTX_ENCODING_PEM 1
#define TLSCTX_ENCODING_DER 2
#define TLSCTX_ENCODING_PEM_AUX 0x101

typedef struct {
    PyObject_HEAD
    X509 *cert;
    tlsctx_state *state;       /* cached: the module outlives its types' instances */
    Py_hash_t hash;            /* -1 until computed */
} tlsctx_certificate;

PyObject *
tlsctx_certificate_new(tlsctx_state *state, X509 *cert)
{
    PyTypeObject *type = state->certificate_type;
    tlsctx_certificate *self = (tlsctx_certificate *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    X509_up_ref(cert);
    self->cert = cert;
    self->state = state;
    self->hash = -1;
    return (PyObject *)self;
}

PyObject *
tlsctx_certificate_list(tlsctx_state *state, STACK_OF(X509) *chain)
{
    int count = sk_X509_num(chain);
    PyObject *list = PyList_New(count < 0 ? 0 : count);
    for (int i = 0; list != NULL && i < count; i++) {
        PyObject *item = tlsctx_certificate_new(state, sk_X509_value(chain, i));
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* The whole content of a memory BIO, as bytes (DER) or str (PEM). */
static PyObject *
bio_contents(BIO *bio, int as_text)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    if (as_text) {
        return PyUnicode_DecodeLatin1(data, len, "error");
    }
    return PyBytes_FromStringAndSize(data, len);
}

static PyObject *
certificate_public_bytes(tlsctx_certificate *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"format", NULL};
    int format = TLSCTX_ENCODING_PEM;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i:public_bytes", keywords, &format)) {
        return NULL;
    }
    if (format != TLSCTX_ENCODING_PEM && format != TLSCTX_ENCODING_DER
        && format != TLSCTX_ENCODING_PEM_AUX) {
        PyErr_SetString(PyExc_ValueError, "Unsupported format");
        return NULL;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return tlsctx_set_ssl_error(self->state, "failed to allocate BIO");
    }
    int ok;
    if (format == TLSCTX_ENCODING_DER) {
        ok = i2d_X509_bio(bio, self->cert);
    }
    else if (format == TLSCTX_ENCODING_PEM_AUX) {
        ok = PEM_write_bio_X509_AUX(bio, self->cert);
    }
    else {
        ok = PEM_write_bio_X509(bio, self->cert);
    }
    PyObject *result = ok == 1 ? bio_contents(bio, format != TLSCTX_ENCODING_DER)
                               : tlsctx_set_ssl_error(self->state, NULL);
    BIO_free(bio);
    return result;
}

static PyObject *
certificate_get_info(tlsctx_certificate *self, PyObject *unused)
{
    return tlsctx_decode_certificate(self->state, self->cert);
}

static PyObject *
certificate_repr(tlsctx_certificate *self)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *subject = NULL, *result = NULL;
    if (X509_NAME_print_ex(bio, X509_get_subject_name(self->cert), 0, XN_FLAG_RFC2253) < 0) {
        tlsctx_set_ssl_error(self->state, NULL);
        goto done;
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    subject = PyUnicode_DecodeUTF8(data, len, "strict");
    if (subject != NULL) {
        result = PyUnicode_FromFormat("<%s '%U'>", Py_TYPE(self)->tp_name, subject);
    }
done:
    BIO_free(bio);
    Py_XDECREF(subject);
    return result;
}

static Py_hash_t
certificate_hash(tlsctx_certificate *self)
{
    if (self->hash == -1) {
        Py_hash_t hash = (Py_hash_t)X509_subject_name_hash(self->cert);
        self->hash = hash == -1 ? -2 : hash;
    }
    return self->hash;
}

static PyObject *
certificate_richcompare(PyObject *left, PyObject *right, int op)
{
    tlsctx_certificate *self = (tlsctx_certificate *)left;
    if (Py_TYPE(right) != self->state->certificate_type || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int equal = X509_cmp(self->cert, ((tlsctx_certificate *)right)->cert) == 0;
    return PyBool_FromLong(op == Py_EQ ? equal : !equal);
}

static void
certificate_dealloc(tlsctx_certificate *self)
{
    PyTypeObject *type = Py_TYPE(self);
    X509_free(self->cert);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyMethodDef certificate_methods[] = {
    {"public_bytes", (PyCFunction)(void (*)(void))certificate_public_bytes,
     METH_VARARGS | METH_KEYWORDS, "The certificate as PEM text (str) or DER bytes."},
    {"get_info", (PyCFunction)certificate_get_info, METH_NOARGS,
     "The certificate as the dictionary getpeercert() returns."},
    {NULL},
};

static PyType_Slot certificate_slots[] = {
    {Py_tp_dealloc, certificate_dealloc},
    {Py_tp_repr, certificate_repr},
    {Py_tp_hash, certificate_hash},
    {Py_tp_richcompare, certificate_richcompare},
    {Py_tp_methods, certificate_methods},
    {0, NULL},
};

static PyType_Spec certificate_spec = {
    .name = "tlsctx._tlsctx.Certificate",
    .basicsize = sizeof(tlsctx_certificate),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = certificate_slots,
};


/* ---- RAND_* ------------------------------------------------------------- */

static PyObject *
rand_add(PyObject *module, PyObject *args)
{
    Py_buffer view;
    double entropy;
    if (PyTuple_GET_SIZE(args) != 2) {
        PyErr_Format(PyExc_TypeError, "RAND_add expected 2 arguments, got %zd",
                     PyTuple_GET_SIZE(args));
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "s*d:RAND_add", &view, &entropy)) {
        return NULL;
    }
    const char *data = view.buf;
    Py_ssize_t left = view.len;
    do {
        int chunk = left > INT_MAX ? INT_MAX : (int)left;
        RAND_add(data, chunk, entropy);
        data += chunk;
        left -= chunk;
    } while (left > 0);
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyObject *
rand_bytes(PyObject *module, PyObject *arg)
{
    long value = PyLong_AsLong(arg);
    if (value == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (value > INT_MAX || value < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return NULL;
    }
    int count = (int)value;
    if (count < 0) {
        PyErr_SetString(PyExc_ValueError, "num must be positive");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, count);
    if (result == NULL) {
        return NULL;
    }
    if (RAND_bytes((unsigned char *)PyBytes_AS_STRING(result), count) != 1) {
        Py_DECREF(result);
        return tlsctx_set_ssl_error(tlsctx_get_state(module), NULL);
    }
    return result;
}

static PyObject *
rand_status(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(RAND_status() == 1);
}

static PyMethodDef rand_functions[] = {
    {"RAND_add", rand_add, METH_VARARGS,
     "Mix string into the OpenSSL PRNG state, with entropy an estimate of its randomness."},
    {"RAND_bytes", rand_bytes, METH_O, "Generate n cryptographically strong pseudo-random bytes."},
    {"RAND_status", rand_status, METH_NOARGS,
     "True if the OpenSSL PRNG has been seeded with enough data."},
    {NULL},
};

int
tlsctx_setup_certificate(PyObject *module, tlsctx_state *state)
{
    state->certificate_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &certificate_spec, NULL);
    if (state->certificate_type == NULL
        || PyModule_AddType(module, state->certificate_type) < 0
        || PyModule_AddFunctions(module, rand_functions) < 0) {
        return -1;
    }
    return 0;
}
