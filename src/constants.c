/* Module constants, from {name, value} tables. */
#include "_tlsctx.h"

typedef struct {
    const char *name;
    long long value;
} int_constant;

typedef struct {
    const char *name;
    int value;
} bool_constant;

/* Options are 64-bit in OpenSSL 3. */
typedef struct {
    const char *name;
    uint64_t value;
} option_constant;

static const option_constant option_constants[] = {
    /* as the stdlib's: without insecure legacy renegotiation, and with the
     * empty-fragment CBC countermeasure kept on */
    {"OP_ALL", SSL_OP_ALL & ~(SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS)},
    {"OP_NO_SSLv2", 0},
    {"OP_NO_SSLv3", SSL_OP_NO_SSLv3},
    {"OP_NO_TLSv1", SSL_OP_NO_TLSv1},
    {"OP_NO_TLSv1_1", SSL_OP_NO_TLSv1_1},
    {"OP_NO_TLSv1_2", SSL_OP_NO_TLSv1_2},
    {"OP_NO_TLSv1_3", SSL_OP_NO_TLSv1_3},
    {"OP_CIPHER_SERVER_PREFERENCE", SSL_OP_CIPHER_SERVER_PREFERENCE},
    {"OP_SINGLE_DH_USE", 0},
    {"OP_SINGLE_ECDH_USE", 0},
    {"OP_NO_COMPRESSION", SSL_OP_NO_COMPRESSION},
    {"OP_ENABLE_MIDDLEBOX_COMPAT", SSL_OP_ENABLE_MIDDLEBOX_COMPAT},
    {"OP_NO_TICKET", SSL_OP_NO_TICKET},
    {"OP_LEGACY_SERVER_CONNECT", SSL_OP_LEGACY_SERVER_CONNECT},
    {"OP_NO_RENEGOTIATION", SSL_OP_NO_RENEGOTIATION},
    {"OP_IGNORE_UNEXPECTED_EOF", SSL_OP_IGNORE_UNEXPECTED_EOF},
    {"OP_ENABLE_KTLS", SSL_OP_ENABLE_KTLS},
    {NULL, 0},
};

static const int_constant int_constants[] = {
    {"PROTOCOL_SSLv23", TLSCTX_PROTO_TLS},
    {"PROTOCOL_TLS", TLSCTX_PROTO_TLS},
    {"PROTOCOL_TLS_CLIENT", TLSCTX_PROTO_TLS_CLIENT},
    {"PROTOCOL_TLS_SERVER", TLSCTX_PROTO_TLS_SERVER},
    {"PROTOCOL_TLSv1", TLSCTX_PROTO_TLSv1},
    {"PROTOCOL_TLSv1_1", TLSCTX_PROTO_TLSv1_1},
    {"PROTOCOL_TLSv1_2", TLSCTX_PROTO_TLSv1_2},

    {"PROTO_MINIMUM_SUPPORTED", TLSCTX_VERSION_MINIMUM_SUPPORTED},
    {"PROTO_MAXIMUM_SUPPORTED", TLSCTX_VERSION_MAXIMUM_SUPPORTED},
    {"PROTO_SSLv3", SSL3_VERSION},
    {"PROTO_TLSv1", TLS1_VERSION},
    {"PROTO_TLSv1_1", TLS1_1_VERSION},
    {"PROTO_TLSv1_2", TLS1_2_VERSION},
    {"PROTO_TLSv1_3", TLS1_3_VERSION},

    {"CERT_NONE", 0},
    {"CERT_OPTIONAL", 1},
    {"CERT_REQUIRED", 2},

    {"VERIFY_DEFAULT", 0},
    {"VERIFY_CRL_CHECK_LEAF", X509_V_FLAG_CRL_CHECK},
    {"VERIFY_CRL_CHECK_CHAIN", X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL},
    {"VERIFY_X509_STRICT", X509_V_FLAG_X509_STRICT},
    {"VERIFY_ALLOW_PROXY_CERTS", X509_V_FLAG_ALLOW_PROXY_CERTS},
    {"VERIFY_X509_TRUSTED_FIRST", X509_V_FLAG_TRUSTED_FIRST},
    {"VERIFY_X509_PARTIAL_CHAIN", X509_V_FLAG_PARTIAL_CHAIN},

    {"HOSTFLAG_ALWAYS_CHECK_SUBJECT", X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT},
    {"HOSTFLAG_NEVER_CHECK_SUBJECT", X509_CHECK_FLAG_NEVER_CHECK_SUBJECT},
    {"HOSTFLAG_NO_WILDCARDS", X509_CHECK_FLAG_NO_WILDCARDS},
    {"HOSTFLAG_NO_PARTIAL_WILDCARDS", X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS},
    {"HOSTFLAG_MULTI_LABEL_WILDCARDS", X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS},
    {"HOSTFLAG_SINGLE_LABEL_SUBDOMAINS", X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS},

    {"ENCODING_PEM", 1},
    {"ENCODING_DER", 2},

    {"SSL_ERROR_ZERO_RETURN", SSL_ERROR_ZERO_RETURN},
    {"SSL_ERROR_WANT_READ", SSL_ERROR_WANT_READ},
    {"SSL_ERROR_WANT_WRITE", SSL_ERROR_WANT_WRITE},
    {"SSL_ERROR_WANT_X509_LOOKUP", SSL_ERROR_WANT_X509_LOOKUP},
    {"SSL_ERROR_SYSCALL", SSL_ERROR_SYSCALL},
    {"SSL_ERROR_SSL", SSL_ERROR_SSL},
    {"SSL_ERROR_WANT_CONNECT", SSL_ERROR_WANT_CONNECT},
    /* the stdlib's own numbers, after OpenSSL's */
    {"SSL_ERROR_EOF", 8},
    {"SSL_ERROR_INVALID_ERROR_CODE", 10},

    {"ALERT_DESCRIPTION_CLOSE_NOTIFY", SSL_AD_CLOSE_NOTIFY},
    {"ALERT_DESCRIPTION_UNEXPECTED_MESSAGE", SSL_AD_UNEXPECTED_MESSAGE},
    {"ALERT_DESCRIPTION_BAD_RECORD_MAC", SSL_AD_BAD_RECORD_MAC},
    {"ALERT_DESCRIPTION_RECORD_OVERFLOW", SSL_AD_RECORD_OVERFLOW},
    {"ALERT_DESCRIPTION_DECOMPRESSION_FAILURE", SSL_AD_DECOMPRESSION_FAILURE},
    {"ALERT_DESCRIPTION_HANDSHAKE_FAILURE", SSL_AD_HANDSHAKE_FAILURE},
    {"ALERT_DESCRIPTION_BAD_CERTIFICATE", SSL_AD_BAD_CERTIFICATE},
    {"ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE", SSL_AD_UNSUPPORTED_CERTIFICATE},
    {"ALERT_DESCRIPTION_CERTIFICATE_REVOKED", SSL_AD_CERTIFICATE_REVOKED},
    {"ALERT_DESCRIPTION_CERTIFICATE_EXPIRED", SSL_AD_CERTIFICATE_EXPIRED},
    {"ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN", SSL_AD_CERTIFICATE_UNKNOWN},
    {"ALERT_DESCRIPTION_ILLEGAL_PARAMETER", SSL_AD_ILLEGAL_PARAMETER},
    {"ALERT_DESCRIPTION_UNKNOWN_CA", SSL_AD_UNKNOWN_CA},
    {"ALERT_DESCRIPTION_ACCESS_DENIED", SSL_AD_ACCESS_DENIED},
    {"ALERT_DESCRIPTION_DECODE_ERROR", SSL_AD_DECODE_ERROR},
    {"ALERT_DESCRIPTION_DECRYPT_ERROR", SSL_AD_DECRYPT_ERROR},
    {"ALERT_DESCRIPTION_PROTOCOL_VERSION", SSL_AD_PROTOCOL_VERSION},
    {"ALERT_DESCRIPTION_INSUFFICIENT_SECURITY", SSL_AD_INSUFFICIENT_SECURITY},
    {"ALERT_DESCRIPTION_INTERNAL_ERROR", SSL_AD_INTERNAL_ERROR},
    {"ALERT_DESCRIPTION_USER_CANCELLED", SSL_AD_USER_CANCELLED},
    {"ALERT_DESCRIPTION_NO_RENEGOTIATION", SSL_AD_NO_RENEGOTIATION},
    {"ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION", SSL_AD_UNSUPPORTED_EXTENSION},
    {"ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE", SSL_AD_CERTIFICATE_UNOBTAINABLE},
    {"ALERT_DESCRIPTION_UNRECOGNIZED_NAME", SSL_AD_UNRECOGNIZED_NAME},
    {"ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE", SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE},
    {"ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE", SSL_AD_BAD_CERTIFICATE_HASH_VALUE},
    {"ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY", SSL_AD_UNKNOWN_PSK_IDENTITY},
    {NULL, 0},
};

static const bool_constant bool_constants[] = {
    {"HAS_SNI", 1},
    {"HAS_TLS_UNIQUE", 1},
    {"HAS_ECDH", 1},
    {"HAS_NPN", 0},      /* the stdlib stopped offering NPN */
    {"HAS_ALPN", 1},
    {"HAS_SSLv2", 0},
#if defined(OPENSSL_NO_SSL3) || defined(OPENSSL_NO_SSL3_METHOD)
    {"HAS_SSLv3", 0},
#else
    {"HAS_SSLv3", 1},
#endif
#if defined(OPENSSL_NO_TLS1) || defined(OPENSSL_NO_TLS1_METHOD)
    {"HAS_TLSv1", 0},
#else
    {"HAS_TLSv1", 1},
#endif
#if defined(OPENSSL_NO_TLS1_1) || defined(OPENSSL_NO_TLS1_1_METHOD)
    {"HAS_TLSv1_1", 0},
#else
    {"HAS_TLSv1_1", 1},
#endif
#if defined(OPENSSL_NO_TLS1_2) || defined(OPENSSL_NO_TLS1_2_METHOD)
    {"HAS_TLSv1_2", 0},
#else
    {"HAS_TLSv1_2", 1},
#endif
    {"HAS_TLSv1_3", 1},
#ifdef OPENSSL_NO_PSK
    {"HAS_PSK", 0},
    {"HAS_PSK_TLS13", 0},
#else
    {"HAS_PSK", 1},
    /* TLS 1.3 external PSKs through the psk callbacks (3.15's constant) */
    {"HAS_PSK_TLS13", 1},
#endif
    {"HAS_PHA", 1},
    {NULL, 0},
};

/* (major, minor, fix, patch, status) as the stdlib decodes a version number */
static PyObject *
version_info(unsigned long number)
{
    unsigned int status = number & 0xF;
    number >>= 4;
    unsigned int patch = number & 0xFF;
    number >>= 8;
    unsigned int fix = number & 0xFF;
    number >>= 8;
    unsigned int minor = number & 0xFF;
    number >>= 8;
    unsigned int major = number & 0xF;
    return Py_BuildValue("IIIII", major, minor, fix, patch, status);
}

static int
add_version_info(PyObject *module)
{
    unsigned long linked = OpenSSL_version_num();
    if (tlsctx_module_add(module, "OPENSSL_VERSION_NUMBER", PyLong_FromUnsignedLong(linked)) < 0
        || tlsctx_module_add(module, "OPENSSL_VERSION_INFO", version_info(linked)) < 0
        || tlsctx_module_add(module, "OPENSSL_VERSION",
                        PyUnicode_FromString(OpenSSL_version(OPENSSL_VERSION))) < 0) {
        return -1;
    }
    return 0;
}

/* CPython's own cipher string: what its _ssl sets on every fresh context
 * unless the interpreter was configured otherwise. */
#define TLSCTX_CPYTHON_CIPHERS \
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"

/* A string attribute of the stdlib's _ssl, or NULL without an exception
 * when there is no _ssl or no such attribute. */
static PyObject *
stdlib_attribute(PyObject *stdlib, const char *name)
{
    if (stdlib == NULL) {
        return NULL;
    }
    PyObject *value = PyObject_GetAttrString(stdlib, name);
    if (value == NULL) {
        PyErr_Clear();
    }
    return value;
}

/* The running interpreter's build choice, read from its _ssl (already loaded
 * by then: the exceptions' exec step imports it; two attribute reads, no context).
 * CPython's configure --with-ssl-default-suites picks one of three:
 *   python  (the default): its own cipher string and a TLS 1.2 minimum;
 *   a custom string:       that string and a TLS 1.2 minimum;
 *   openssl (Debian's):    OpenSSL's default list untouched, no minimum;
 *                          _DEFAULT_CIPHERS then is OpenSSL's default string.
 * A fresh tlsctx context makes the same choice (context.c). */
static int
add_build_defaults(PyObject *module, tlsctx_state *state)
{
    PyObject *stdlib = PyImport_ImportModule("_ssl");
    if (stdlib == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError)) {
            return -1;
        }
        PyErr_Clear();
    }
    PyObject *ciphers = stdlib_attribute(stdlib, "_DEFAULT_CIPHERS");
    PyObject *api = stdlib_attribute(stdlib, "_OPENSSL_API_VERSION");
    Py_XDECREF(stdlib);
    int rc = -1;
    const char *text = TLSCTX_CPYTHON_CIPHERS;
    if (ciphers != NULL && PyUnicode_Check(ciphers)) {
        text = PyUnicode_AsUTF8(ciphers);
        if (text == NULL) {
            goto done;
        }
    }
    Py_CLEAR(state->default_ciphers);
    if (strcmp(text, OSSL_default_cipher_list()) != 0) {
        state->default_ciphers = PyBytes_FromString(text);
        if (state->default_ciphers == NULL) {
            goto done;
        }
    }
    if (PyModule_AddStringConstant(module, "_DEFAULT_CIPHERS", text) < 0) {
        goto done;
    }
    /* _OPENSSL_API_VERSION is the header version the stdlib was compiled
     * with; within one OpenSSL release series the API is the same, so the
     * stdlib's value stands when tlsctx was built for that series too.
     * tlsctx's own header version stays in _BUILD_OPENSSL_API_VERSION. */
    PyObject *own = version_info(OPENSSL_VERSION_NUMBER);
    if (own == NULL || PyModule_AddObjectRef(module, "_BUILD_OPENSSL_API_VERSION", own) < 0) {
        Py_XDECREF(own);
        goto done;
    }
    PyObject *chosen = own;
    if (api != NULL && PyTuple_Check(api) && PyTuple_GET_SIZE(api) == 5) {
        PyObject *major = PyLong_FromLong(OPENSSL_VERSION_MAJOR);
        PyObject *minor = PyLong_FromLong(OPENSSL_VERSION_MINOR);
        int same = -1;
        if (major != NULL && minor != NULL) {
            same = PyObject_RichCompareBool(PyTuple_GET_ITEM(api, 0), major, Py_EQ);
            if (same == 1) {
                same = PyObject_RichCompareBool(PyTuple_GET_ITEM(api, 1), minor, Py_EQ);
            }
        }
        Py_XDECREF(major);
        Py_XDECREF(minor);
        if (same < 0) {
            Py_DECREF(own);
            goto done;
        }
        if (same) {
            chosen = api;
        }
    }
    rc = PyModule_AddObjectRef(module, "_OPENSSL_API_VERSION", chosen);
    Py_DECREF(own);
done:
    Py_XDECREF(ciphers);
    Py_XDECREF(api);
    return rc;
}

int
tlsctx_setup_constants(PyObject *module, tlsctx_state *state)
{
    for (const option_constant *c = option_constants; c->name != NULL; c++) {
        if (tlsctx_module_add(module, c->name, PyLong_FromUnsignedLongLong(c->value)) < 0) {
            return -1;
        }
    }
    for (const int_constant *c = int_constants; c->name != NULL; c++) {
        if (tlsctx_module_add(module, c->name, PyLong_FromLongLong(c->value)) < 0) {
            return -1;
        }
    }
    for (const bool_constant *c = bool_constants; c->name != NULL; c++) {
        if (PyModule_AddObjectRef(module, c->name, c->value ? Py_True : Py_False) < 0) {
            return -1;
        }
    }
    if (add_build_defaults(module, state) < 0) {
        return -1;
    }
    return add_version_info(module);
}
