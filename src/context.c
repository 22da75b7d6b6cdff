/* The _SSLContext type: construction, defaults and the core attributes.
 * Certificates, ciphers and callbacks live in context_endpoint.c, trust
 * store loading in trustcache.c. */
#include "_tlsctx.h"

#if defined(OPENSSL_NO_SSL3) || defined(OPENSSL_NO_SSL3_METHOD)
#define LOWEST_AVAILABLE_VERSION TLS1_VERSION
#else
#define LOWEST_AVAILABLE_VERSION SSL3_VERSION
#endif

#define DEPRECATED(msg) (PyErr_WarnEx(PyExc_DeprecationWarning, (msg), 2))

/* The stdlib's verify modes in OpenSSL terms. */
static int
verify_mode_to_openssl(int mode, int *out)
{
    switch (mode) {
    case 0:
        *out = SSL_VERIFY_NONE;
        return 0;
    case 1:
        *out = SSL_VERIFY_PEER;
        return 0;
    case 2:
        *out = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        return 0;
    }
    PyErr_SetString(PyExc_ValueError, "invalid value for verify_mode");
    return -1;
}

int
tlsctx_context_set_verify_mode(tlsctx_context *self, int mode)
{
    int openssl_mode;
    if (verify_mode_to_openssl(mode, &openssl_mode) < 0) {
        return -1;
    }
    /* keep the post-handshake flag, which only connections set */
    openssl_mode |= SSL_CTX_get_verify_mode(self->ctx) & SSL_VERIFY_POST_HANDSHAKE;
    SSL_CTX_set_verify(self->ctx, openssl_mode, tlsctx_verify_callback);
    return 0;
}

/* The fixed-version methods are deprecated in OpenSSL as in Python, and
 * still offered, with a warning, like the stdlib does. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const SSL_METHOD *
method_for_protocol(int protocol, int *deprecated)
{
    *deprecated = 1;
    switch (protocol) {
    case TLSCTX_PROTO_TLS_CLIENT:
        *deprecated = 0;
        return TLS_client_method();
    case TLSCTX_PROTO_TLS_SERVER:
        *deprecated = 0;
        return TLS_server_method();
    case TLSCTX_PROTO_TLS:
        return TLS_method();
#if !defined(OPENSSL_NO_TLS1) && !defined(OPENSSL_NO_TLS1_METHOD)
    case TLSCTX_PROTO_TLSv1:
        return TLSv1_method();
#endif
#if !defined(OPENSSL_NO_TLS1_1) && !defined(OPENSSL_NO_TLS1_1_METHOD)
    case TLSCTX_PROTO_TLSv1_1:
        return TLSv1_1_method();
#endif
#if !defined(OPENSSL_NO_TLS1_2) && !defined(OPENSSL_NO_TLS1_2_METHOD)
    case TLSCTX_PROTO_TLSv1_2:
        return TLSv1_2_method();
#endif
    }
    return NULL;
}
#pragma GCC diagnostic pop

static const char *
protocol_deprecation(int protocol)
{
    switch (protocol) {
    case TLSCTX_PROTO_TLS:
        return "ssl.PROTOCOL_TLS is deprecated";
    case TLSCTX_PROTO_TLSv1:
        return "ssl.PROTOCOL_TLSv1 is deprecated";
    case TLSCTX_PROTO_TLSv1_1:
        return "ssl.PROTOCOL_TLSv1_1 is deprecated";
    case TLSCTX_PROTO_TLSv1_2:
        return "ssl.PROTOCOL_TLSv1_2 is deprecated";
    }
    return NULL;
}

/* The running stdlib's build choice (constants.c): its cipher string and a
 * TLS 1.2 minimum for the version-flexible methods, or, where the interpreter
 * keeps OpenSSL's defaults (Debian's), neither call at all. */
static int
apply_build_defaults(tlsctx_context *self)
{
    tlsctx_state *state = self->state;
    if (state->default_ciphers == NULL) {
        return 0;
    }
    if (SSL_CTX_set_cipher_list(self->ctx, PyBytes_AS_STRING(state->default_ciphers)) != 1) {
        ERR_clear_error();
        PyErr_SetString(state->SSLError, "No cipher can be selected.");
        return -1;
    }
    switch (self->protocol) {
    case TLSCTX_PROTO_TLS:
    case TLSCTX_PROTO_TLS_CLIENT:
    case TLSCTX_PROTO_TLS_SERVER:
        if (SSL_CTX_set_min_proto_version(self->ctx, TLS1_2_VERSION) != 1) {
            ERR_clear_error();
            PyErr_Format(PyExc_ValueError, "Failed to set minimum protocol 0x%x", TLS1_2_VERSION);
            return -1;
        }
    }
    return 0;
}

/* Everything a fresh context gets before Python sees it, as the running stdlib's. */
static int
apply_defaults(tlsctx_context *self)
{
    uint64_t options = SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS;
    options |= SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(self->ctx, options);

    if (apply_build_defaults(self) < 0) {
        return -1;
    }
    SSL_CTX_set_mode(self->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);

    /* prefer certificates from the trust store when chains are cross-signed */
    X509_VERIFY_PARAM *params = SSL_CTX_get0_param(self->ctx);
    X509_VERIFY_PARAM_set_flags(params, X509_V_FLAG_TRUSTED_FIRST);
    X509_VERIFY_PARAM_set_flags(X509_STORE_get0_param(SSL_CTX_get_cert_store(self->ctx)),
                                X509_V_FLAG_TRUSTED_FIRST);
    self->host_flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
    X509_VERIFY_PARAM_set_hostflags(params, self->host_flags);
    self->post_handshake_auth = 0;
    SSL_CTX_set_post_handshake_auth(self->ctx, 0);

    if (self->protocol == TLSCTX_PROTO_TLS_CLIENT) {
        self->check_hostname = 1;
        return tlsctx_context_set_verify_mode(self, 2);
    }
    self->check_hostname = 0;
    return tlsctx_context_set_verify_mode(self, 0);
}

static PyObject *
context_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"protocol", NULL};
    PyObject *protocol_obj;
    int protocol, deprecated;
    PyObject *module = PyType_GetModuleByDef(type, &tlsctx_module_def);
    if (module == NULL) {
        return NULL;
    }
    tlsctx_state *state = tlsctx_get_state(module);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:_SSLContext", keywords, &protocol_obj)) {
        return NULL;
    }
    long wide = PyLong_AsLong(protocol_obj);
    if (wide == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return NULL;
        }
        PyErr_Clear();
        wide = (long)INT_MAX + 1;
    }
    if (wide > INT_MAX || wide < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return NULL;
    }
    protocol = (int)wide;
    const SSL_METHOD *method = method_for_protocol(protocol, &deprecated);
    if (method == NULL) {
        PyErr_Format(PyExc_ValueError, "invalid or unsupported protocol version %i", protocol);
        return NULL;
    }
    if (deprecated && DEPRECATED(protocol_deprecation(protocol)) < 0) {
        return NULL;
    }

    SSL_CTX *ctx = SSL_CTX_new(method);
    if (ctx == NULL) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    tlsctx_context *self = (tlsctx_context *)type->tp_alloc(type, 0);
    if (self == NULL) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    self->ctx = ctx;
    self->state = state;
    self->protocol = protocol;
    if (tlsctx_trust_init(self) < 0) {
        goto error;
    }
    if (apply_defaults(self) < 0 || tlsctx_context_endpoint_init(self) < 0) {
        goto error;
    }
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static int
context_traverse(tlsctx_context *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->sni_callback);
    Py_VISIT(self->psk_client_callback);
    Py_VISIT(self->psk_server_callback);
    Py_VISIT(self->keylog_filename);
    Py_VISIT(self->msg_callback);
    return 0;
}

static int
context_clear(tlsctx_context *self)
{
    Py_CLEAR(self->sni_callback);
    Py_CLEAR(self->psk_client_callback);
    Py_CLEAR(self->psk_server_callback);
    Py_CLEAR(self->keylog_filename);
    Py_CLEAR(self->msg_callback);
    return 0;
}

static void
context_dealloc(tlsctx_context *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    context_clear(self);
    if (self->ctx != NULL) {
        tlsctx_context_endpoint_free(self);
        SSL_CTX_free(self->ctx);
        self->ctx = NULL;
    }
    tlsctx_trust_free(self);
    type->tp_free(self);
    Py_DECREF(type);
}

/* ---- attributes --------------------------------------------------------- */

static PyObject *
get_protocol(tlsctx_context *self, void *closure)
{
    return PyLong_FromLong(self->protocol);
}

static PyObject *
get_options(tlsctx_context *self, void *closure)
{
    return PyLong_FromUnsignedLongLong(SSL_CTX_get_options(self->ctx));
}

/* An unsigned 64-bit options value, parsed as CPython 3.14+ does
 * (PyLong_AsUInt64): any integer-like object, ValueError for a negative one,
 * OverflowError past 64 bits.  tlsctx parses this way on every interpreter. */
static int
options_argument(PyObject *value, unsigned long long *result)
{
    PyObject *number = PyNumber_Index(value);
    if (number == NULL) {
        return -1;
    }
    int rc = -1;
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        goto done;
    }
    int negative = PyObject_RichCompareBool(number, zero, Py_LT);
    Py_DECREF(zero);
    if (negative < 0) {
        goto done;
    }
    if (negative) {
        PyErr_SetString(PyExc_ValueError, "Cannot convert negative int");
        goto done;
    }
    *result = PyLong_AsUnsignedLongLong(number);
    if (*result == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_SetString(PyExc_OverflowError, "Python int too large for C unsigned long long");
        }
        goto done;
    }
    rc = 0;
done:
    Py_DECREF(number);
    return rc;
}

static int
set_options(tlsctx_context *self, PyObject *value, void *closure)
{
    const uint64_t version_bits = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1
                                  | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3;
    REJECT_DELETE(value);
    unsigned long long wanted;
    if (options_argument(value, &wanted) < 0) {
        return -1;
    }
    uint64_t current = SSL_CTX_get_options(self->ctx);
    uint64_t clear = current & ~(uint64_t)wanted;
    uint64_t set = ~current & (uint64_t)wanted;
    if ((set & version_bits) != 0
        && DEPRECATED("ssl.OP_NO_SSL*/ssl.OP_NO_TLS* options are deprecated") < 0) {
        return -1;
    }
    if (clear) {
        SSL_CTX_clear_options(self->ctx, clear);
    }
    if (set) {
        SSL_CTX_set_options(self->ctx, set);
    }
    return 0;
}

static PyObject *
get_verify_mode(tlsctx_context *self, void *closure)
{
    /* connections add CLIENT_ONCE and POST_HANDSHAKE; they are not modes */
    switch (SSL_CTX_get_verify_mode(self->ctx)
            & (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT)) {
    case SSL_VERIFY_NONE:
        return PyLong_FromLong(0);
    case SSL_VERIFY_PEER:
        return PyLong_FromLong(1);
    case SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT:
        return PyLong_FromLong(2);
    }
    PyErr_SetString(self->state->SSLError, "invalid return value from SSL_CTX_get_verify_mode");
    return NULL;
}

static int
set_verify_mode(tlsctx_context *self, PyObject *value, void *closure)
{
    int mode;
    REJECT_DELETE(value);
    if (!PyArg_Parse(value, "i", &mode)) {
        return -1;
    }
    if (mode == 0 && self->check_hostname) {
        PyErr_SetString(PyExc_ValueError,
                        "Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
        return -1;
    }
    return tlsctx_context_set_verify_mode(self, mode);
}

static PyObject *
get_verify_flags(tlsctx_context *self, void *closure)
{
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    return PyLong_FromUnsignedLong(X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(store)));
}

static int
set_verify_flags(tlsctx_context *self, PyObject *value, void *closure)
{
    unsigned long wanted;
    REJECT_DELETE(value);
    if (!PyArg_Parse(value, "k", &wanted)) {
        return -1;
    }
    return tlsctx_trust_set_verify_flags(self, wanted);
}

static PyObject *
get_check_hostname(tlsctx_context *self, void *closure)
{
    return PyBool_FromLong(self->check_hostname);
}

static int
set_check_hostname(tlsctx_context *self, PyObject *value, void *closure)
{
    int enable;
    REJECT_DELETE_NAMED(self, value, "check_hostname");
    if (!PyArg_Parse(value, "p", &enable)) {
        return -1;
    }
    /* checking names without verifying the chain means nothing */
    if (enable && SSL_CTX_get_verify_mode(self->ctx) == SSL_VERIFY_NONE
        && tlsctx_context_set_verify_mode(self, 2) < 0) {
        return -1;
    }
    self->check_hostname = enable;
    return 0;
}

static PyObject *
get_host_flags(tlsctx_context *self, void *closure)
{
    return PyLong_FromUnsignedLong(self->host_flags);
}

static int
set_host_flags(tlsctx_context *self, PyObject *value, void *closure)
{
    unsigned int flags;
    REJECT_DELETE_NAMED(self, value, "_host_flags");
    if (!PyArg_Parse(value, "I", &flags)) {
        return -1;
    }
    self->host_flags = flags;
    X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(self->ctx), self->host_flags);
    return 0;
}

static PyObject *
get_post_handshake_auth(tlsctx_context *self, void *closure)
{
    return PyBool_FromLong(self->post_handshake_auth);
}

static int
set_post_handshake_auth(tlsctx_context *self, PyObject *value, void *closure)
{
    REJECT_DELETE(value);
    int enable = PyObject_IsTrue(value);
    if (enable < 0) {
        return -1;
    }
    /* applied per connection: clients only offer it, servers ask on demand */
    self->post_handshake_auth = enable;
    return 0;
}

static PyObject *
get_security_level(tlsctx_context *self, void *closure)
{
    return PyLong_FromLong(SSL_CTX_get_security_level(self->ctx));
}

static PyObject *
get_version_bound(tlsctx_context *self, void *closure)
{
    int is_max = closure != NULL;
    long version = is_max ? SSL_CTX_get_max_proto_version(self->ctx)
                          : SSL_CTX_get_min_proto_version(self->ctx);
    if (version == 0) {
        version = is_max ? TLSCTX_VERSION_MAXIMUM_SUPPORTED : TLSCTX_VERSION_MINIMUM_SUPPORTED;
    }
    return PyLong_FromLong(version);
}

static int
set_version_bound(tlsctx_context *self, PyObject *value, void *closure)
{
    int is_max = closure != NULL;
    int version;
    REJECT_DELETE(value);
    /* a C int, as CPython 3.14+ parses it (3.13 and older: a C long, and
     * "Option is too long" past INT_MAX) */
    if (!PyArg_Parse(value, "i", &version)) {
        return -1;
    }
    switch (self->protocol) {
    case TLSCTX_PROTO_TLS:
    case TLSCTX_PROTO_TLS_CLIENT:
    case TLSCTX_PROTO_TLS_SERVER:
        break;
    default:
        PyErr_SetString(PyExc_ValueError, "The context's protocol doesn't support modification "
                                          "of highest and lowest version.");
        return -1;
    }
    const char *deprecation = NULL;
    switch (version) {
    case SSL3_VERSION:
        deprecation = "ssl.TLSVersion.SSLv3 is deprecated";
        break;
    case TLS1_VERSION:
        deprecation = "ssl.TLSVersion.TLSv1 is deprecated";
        break;
    case TLS1_1_VERSION:
        deprecation = "ssl.TLSVersion.TLSv1_1 is deprecated";
        break;
    case TLSCTX_VERSION_MINIMUM_SUPPORTED:
    case TLSCTX_VERSION_MAXIMUM_SUPPORTED:
    case TLS1_2_VERSION:
    case TLS1_3_VERSION:
        break;
    default:
        PyErr_Format(PyExc_ValueError, "Unsupported TLS/SSL version 0x%x", (int)version);
        return -1;
    }
    if (deprecation != NULL && DEPRECATED(deprecation) < 0) {
        return -1;
    }
    /* OpenSSL spells "no bound" as 0; the opposite symbolic end is the
     * lowest or highest version it knows */
    if (version == TLSCTX_VERSION_MINIMUM_SUPPORTED) {
        version = is_max ? LOWEST_AVAILABLE_VERSION : 0;
    }
    else if (version == TLSCTX_VERSION_MAXIMUM_SUPPORTED) {
        version = is_max ? 0 : TLS1_3_VERSION;
    }
    int ok = is_max ? SSL_CTX_set_max_proto_version(self->ctx, version)
                    : SSL_CTX_set_min_proto_version(self->ctx, version);
    if (!ok) {
        ERR_clear_error();
        PyErr_Format(PyExc_ValueError, "Unsupported protocol version 0x%x", (int)version);
        return -1;
    }
    return 0;
}

/* ---- trust store methods ----------------------------------------------- */

static int
path_argument(PyObject *obj, const char *name, PyObject **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    if (!PyUnicode_FSConverter(obj, out)) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "%s should be a valid filesystem path", name);
        }
        return -1;
    }
    return 0;
}

static PyObject *
context_load_verify_locations(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"cafile", "capath", "cadata", NULL};
    PyObject *cafile = Py_None, *capath = Py_None, *cadata = Py_None;
    PyObject *cafile_bytes = NULL, *capath_bytes = NULL, *cadata_ascii = NULL;
    Py_buffer view = {NULL, NULL};
    PyObject *result = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO:load_verify_locations", keywords,
                                     &cafile, &capath, &cadata)) {
        return NULL;
    }
    if (cafile == Py_None && capath == Py_None && cadata == Py_None) {
        PyErr_SetString(PyExc_TypeError, "cafile, capath and cadata cannot be all omitted");
        return NULL;
    }
    if (path_argument(cafile, "cafile", &cafile_bytes) < 0
        || path_argument(capath, "capath", &capath_bytes) < 0) {
        goto done;
    }
    const char *data = NULL;
    Py_ssize_t data_len = 0;
    int pem = 0;
    if (cadata != Py_None) {
        if (PyUnicode_Check(cadata)) {
            cadata_ascii = PyUnicode_AsASCIIString(cadata);
            if (cadata_ascii == NULL) {
                if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                    goto invalid_cadata;
                }
                goto done;
            }
            data = PyBytes_AS_STRING(cadata_ascii);
            data_len = PyBytes_GET_SIZE(cadata_ascii);
            pem = 1;
        }
        else if (PyObject_CheckBuffer(cadata)) {
            if (PyObject_GetBuffer(cadata, &view, PyBUF_SIMPLE) < 0) {
                goto done;
            }
            data = view.buf;
            data_len = view.len;
        }
        else {
        invalid_cadata:
            PyErr_SetString(PyExc_TypeError,
                            "cadata should be an ASCII string or a bytes-like object");
            goto done;
        }
    }
    /* Validate and parse everything before the store changes: a failure
     * leaves the context as it was. */
    if (tlsctx_trust_load(self, cafile_bytes, capath_bytes, data, data_len, pem) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (view.obj != NULL) {
        PyBuffer_Release(&view);
    }
    Py_XDECREF(cadata_ascii);
    Py_XDECREF(cafile_bytes);
    Py_XDECREF(capath_bytes);
    return result;
}

static PyObject *
context_set_default_verify_paths(tlsctx_context *self, PyObject *unused)
{
    if (tlsctx_trust_set_default_paths(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
context_cert_store_stats(tlsctx_context *self, PyObject *unused)
{
    int x509 = 0, ca = 0, crl = 0;
    if (tlsctx_trust_materialize(self) < 0) {
        return NULL;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    /* handshakes on other threads may add to a private store with lookups */
    if (!X509_STORE_lock(store)) {
        return tlsctx_set_ssl_error(self->state, NULL);
    }
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); i++) {
        X509_OBJECT *obj = sk_X509_OBJECT_value(objects, i);
        switch (X509_OBJECT_get_type(obj)) {
        case X509_LU_X509:
            x509++;
            if (X509_check_ca(X509_OBJECT_get0_X509(obj))) {
                ca++;
            }
            break;
        case X509_LU_CRL:
            crl++;
            break;
        default:
            break;
        }
    }
    X509_STORE_unlock(store);
    /* X509_check_ca caches extension data and may leave errors behind */
    ERR_clear_error();
    return Py_BuildValue("{sisisi}", "x509", x509, "crl", crl, "x509_ca", ca);
}

static PyObject *
context_get_ca_certs(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"binary_form", NULL};
    int binary_form = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:get_ca_certs", keywords, &binary_form)) {
        return NULL;
    }
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    /* in the stdlib's order, each held by a reference of its own */
    STACK_OF(X509) *certs = tlsctx_trust_ca_certs(self);
    if (certs == NULL) {
        Py_DECREF(result);
        return NULL;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *cert = sk_X509_value(certs, i);
        PyObject *item = binary_form ? tlsctx_certificate_der(self->state, cert)
                                     : tlsctx_decode_certificate(self->state, cert);
        if (item == NULL || PyList_Append(result, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(result);
            break;
        }
        Py_DECREF(item);
    }
    sk_X509_pop_free(certs, X509_free);
    return result;
}

static PyGetSetDef context_getset[] = {
    {"protocol", (getter)get_protocol, NULL, NULL, NULL},
    {"options", (getter)get_options, (setter)set_options, NULL, NULL},
    {"verify_mode", (getter)get_verify_mode, (setter)set_verify_mode, NULL, NULL},
    {"verify_flags", (getter)get_verify_flags, (setter)set_verify_flags, NULL, NULL},
    {"check_hostname", (getter)get_check_hostname, (setter)set_check_hostname, NULL, NULL},
    {"_host_flags", (getter)get_host_flags, (setter)set_host_flags, NULL, NULL},
    {"post_handshake_auth", (getter)get_post_handshake_auth, (setter)set_post_handshake_auth,
     NULL, NULL},
    {"security_level", (getter)get_security_level, NULL, NULL, NULL},
    {"minimum_version", (getter)get_version_bound, (setter)set_version_bound, NULL, NULL},
    {"maximum_version", (getter)get_version_bound, (setter)set_version_bound, NULL, "max"},
    TLSCTX_CONTEXT_ENDPOINT_GETSET
    {NULL},
};

static PyMethodDef context_methods[] = {
    {"load_verify_locations", (PyCFunction)(void (*)(void))context_load_verify_locations,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"set_default_verify_paths", (PyCFunction)context_set_default_verify_paths, METH_NOARGS, NULL},
    {"cert_store_stats", (PyCFunction)context_cert_store_stats, METH_NOARGS, NULL},
    {"get_ca_certs", (PyCFunction)(void (*)(void))context_get_ca_certs,
     METH_VARARGS | METH_KEYWORDS, NULL},
    TLSCTX_CONTEXT_ENDPOINT_METHODS
    TLSCTX_CONTEXT_MODERN_METHODS
    {"_wrap_socket", (PyCFunction)(void (*)(void))tlsctx_context_wrap_socket,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_wrap_bio", (PyCFunction)(void (*)(void))tlsctx_context_wrap_bio,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {NULL},
};

static PyType_Slot context_slots[] = {
    {Py_tp_new, context_new},
    {Py_tp_dealloc, context_dealloc},
    {Py_tp_traverse, context_traverse},
    {Py_tp_clear, context_clear},
    {Py_tp_getset, context_getset},
    {Py_tp_methods, context_methods},
    {0, NULL},
};

static PyType_Spec context_spec = {
    .name = "tlsctx._tlsctx._SSLContext",
    .basicsize = sizeof(tlsctx_context),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = context_slots,
};

int
tlsctx_setup_context_type(PyObject *module, tlsctx_state *state)
{
    state->context_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &context_spec, NULL);
    if (state->context_type == NULL) {
        return -1;
    }
    return PyModule_AddType(module, state->context_type);
}
