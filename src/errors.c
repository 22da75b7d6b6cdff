/* The SSLError family and the one funnel that turns the OpenSSL error queue
 * into a Python exception. */
#include "_tlsctx.h"
#include "errtables.h"

/* Without the stdlib's _ssl to inherit from, SSLError renders like it:
 * the message alone when there is one. */
static PyObject *
sslerror_str(PyOSErrorObject *self)
{
    if (self->strerror != NULL && PyUnicode_Check(self->strerror)) {
        return Py_NewRef(self->strerror);
    }
    return PyObject_Str(self->args);
}

static PyType_Slot sslerror_slots[] = {
    {Py_tp_str, sslerror_str},
    {0, NULL},
};

static PyType_Spec sslerror_spec = {
    .name = "tlsctx.SSLError",
    .basicsize = sizeof(PyOSErrorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = sslerror_slots,
};

static PyObject *
new_exception(PyObject *module, const char *name, const char *doc, PyObject *bases)
{
    PyObject *exc = PyErr_NewExceptionWithDoc(name, doc, bases, NULL);
    if (exc == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, strrchr(name, '.') + 1, exc) < 0) {
        Py_DECREF(exc);
        return NULL;
    }
    return exc;
}

/* Each class also derives from the stdlib's class of the same name when the
 * stdlib _ssl imports: code written for `ssl` catches tlsctx's errors. */
static PyObject *
stdlib_bases(PyObject *stdlib, const char *name, PyObject *own_base, PyObject *extra)
{
    PyObject *std = NULL;
    if (stdlib != NULL) {
        std = PyObject_GetAttrString(stdlib, name);
        if (std == NULL) {
            return NULL;
        }
    }
    PyObject *bases;
    if (std != NULL && extra != NULL) {
        bases = PyTuple_Pack(3, own_base, std, extra);
    }
    else if (std != NULL) {
        bases = PyTuple_Pack(2, own_base, std);
    }
    else if (extra != NULL) {
        bases = PyTuple_Pack(2, own_base, extra);
    }
    else {
        bases = PyTuple_Pack(1, own_base);
    }
    Py_XDECREF(std);
    return bases;
}

int
tlsctx_setup_exceptions(PyObject *module, tlsctx_state *state)
{
    PyObject *stdlib = PyImport_ImportModule("_ssl");
    if (stdlib == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError)) {
            return -1;
        }
        PyErr_Clear();
    }
    PyObject *bases = NULL;
    int rc = -1;

    if (stdlib != NULL) {
        PyObject *std = PyObject_GetAttrString(stdlib, "SSLError");
        if (std == NULL) {
            goto done;
        }
        bases = PyTuple_Pack(1, std);
        Py_DECREF(std);
    }
    else {
        bases = PyTuple_Pack(1, PyExc_OSError);
    }
    if (bases == NULL) {
        goto done;
    }
    state->SSLError = PyType_FromModuleAndSpec(module, &sslerror_spec, bases);
    Py_CLEAR(bases);
    if (state->SSLError == NULL
        || PyModule_AddObjectRef(module, "SSLError", state->SSLError) < 0) {
        goto done;
    }

    static const struct {
        const char *name;
        const char *doc;
        size_t offset;
    } subclasses[] = {
        {"tlsctx.SSLZeroReturnError", "SSL/TLS session closed cleanly.",
         offsetof(tlsctx_state, SSLZeroReturnError)},
        {"tlsctx.SSLWantReadError", "Non-blocking SSL socket needs to read more data.",
         offsetof(tlsctx_state, SSLWantReadError)},
        {"tlsctx.SSLWantWriteError", "Non-blocking SSL socket needs to write more data.",
         offsetof(tlsctx_state, SSLWantWriteError)},
        {"tlsctx.SSLSyscallError", "System error when attempting SSL operation.",
         offsetof(tlsctx_state, SSLSyscallError)},
        {"tlsctx.SSLEOFError", "SSL/TLS connection terminated abruptly.",
         offsetof(tlsctx_state, SSLEOFError)},
        {"tlsctx.SSLCertVerificationError", "A certificate could not be verified.",
         offsetof(tlsctx_state, SSLCertVerificationError)},
    };
    for (size_t i = 0; i < Py_ARRAY_LENGTH(subclasses); i++) {
        const char *short_name = strrchr(subclasses[i].name, '.') + 1;
        int is_verify = (subclasses[i].offset == offsetof(tlsctx_state, SSLCertVerificationError));
        /* SSLCertVerificationError is also a ValueError; the stdlib class already is. */
        bases = stdlib_bases(stdlib, short_name, state->SSLError,
                             (is_verify && stdlib == NULL) ? PyExc_ValueError : NULL);
        if (bases == NULL) {
            goto done;
        }
        PyObject *exc = new_exception(module, subclasses[i].name, subclasses[i].doc, bases);
        Py_CLEAR(bases);
        if (exc == NULL) {
            goto done;
        }
        *(PyObject **)((char *)state + subclasses[i].offset) = exc;
    }
    if (PyModule_AddObjectRef(module, "CertificateError", state->SSLCertVerificationError) < 0) {
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(bases);
    Py_XDECREF(stdlib);
    return rc;
}

/* Test hook: whether anything is left on this thread's OpenSSL error queue,
 * which tlsctx and the stdlib's _ssl share when linked to the same libcrypto. */
static PyObject *
openssl_errors_pending(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(ERR_peek_error() != 0);
}

/* The generated tables, searched from the end: where a (lib, reason) pair
 * appears twice the later name wins, as it did when the tables were dicts.
 * Only error paths and the module attributes below read them, so nothing is
 * built at import. */
static const char *
lib_name(int lib)
{
    const char *found = NULL;
    for (const tlsctx_lib_name *l = tlsctx_lib_names; l->name != NULL; l++) {
        if (l->lib == lib) {
            found = l->name;
        }
    }
    return found;
}

static const char *
reason_name(int lib, int reason)
{
    const char *found = NULL;
    for (const tlsctx_reason_name *r = tlsctx_reason_names; r->name != NULL; r++) {
        if (r->lib == lib && r->reason == reason) {
            found = r->name;
        }
    }
    return found;
}

/* table[key] = name; takes the reference to `key` (NULL: a failed build). */
static int
table_put(PyObject *table, PyObject *key, const char *name)
{
    PyObject *value = key != NULL ? PyUnicode_FromString(name) : NULL;
    int rc = value != NULL ? PyDict_SetItem(table, key, value) : -1;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

/* err_codes_to_names ({(lib, reason): name}) or lib_codes_to_names
 * ({lib: name}), a fresh dict of the generated table. */
static PyObject *
error_table_dict(int reasons)
{
    PyObject *table = PyDict_New();
    if (table == NULL) {
        return NULL;
    }
    if (reasons) {
        for (const tlsctx_reason_name *r = tlsctx_reason_names; r->name != NULL; r++) {
            if (table_put(table, Py_BuildValue("ii", r->lib, r->reason), r->name) < 0) {
                goto error;
            }
        }
        return table;
    }
    for (const tlsctx_lib_name *l = tlsctx_lib_names; l->name != NULL; l++) {
        if (table_put(table, PyLong_FromLong(l->lib), l->name) < 0) {
            goto error;
        }
    }
    return table;

error:
    Py_DECREF(table);
    return NULL;
}

/* The module's __getattr__ (PEP 562): err_codes_to_names and
 * lib_codes_to_names are made when first read (some 1,000 entries whose
 * construction was a sixth of `import tlsctx`'s own work), then kept in the
 * module's dict, where later reads find them. */
static PyObject *
module_getattr(PyObject *module, PyObject *name)
{
    int reasons;
    if (PyUnicode_Check(name)
        && PyUnicode_CompareWithASCIIString(name, "err_codes_to_names") == 0) {
        reasons = 1;
    }
    else if (PyUnicode_Check(name)
             && PyUnicode_CompareWithASCIIString(name, "lib_codes_to_names") == 0) {
        reasons = 0;
    }
    else {
        const char *module_name = PyModule_GetName(module);
        if (module_name != NULL) {
            PyErr_Format(PyExc_AttributeError, "module '%s' has no attribute %R", module_name,
                         name);
        }
        return NULL;
    }
    PyObject *table = error_table_dict(reasons);
    if (table == NULL) {
        return NULL;
    }
    PyObject *dict = PyModule_GetDict(module);   /* borrowed */
    PyObject *kept = PyDict_SetDefault(dict, name, table);   /* borrowed; the first one made */
    Py_DECREF(table);
    return Py_XNewRef(kept);
}

static PyMethodDef error_functions[] = {
    {"_openssl_errors_pending", openssl_errors_pending, METH_NOARGS,
     "True if the calling thread's OpenSSL error queue is not empty (for tests)."},
    {"__getattr__", module_getattr, METH_O,
     "The error-name tables err_codes_to_names and lib_codes_to_names, made on first use."},
    {NULL},
};

int
tlsctx_setup_error_tables(PyObject *module, tlsctx_state *state)
{
    /* the tables are static; the state only keeps two attribute names */
    if (PyModule_AddFunctions(module, error_functions) < 0) {
        return -1;
    }
    state->str_reason = PyUnicode_InternFromString("reason");
    state->str_library = PyUnicode_InternFromString("library");
    if (state->str_reason == NULL || state->str_library == NULL) {
        return -1;
    }
    return PyModule_AddStringConstant(module, "_ERRTABLES_RELEASE", TLSCTX_ERRTABLES_RELEASE);
}

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The one builder behind every SSLError: "[lib: reason] text[: detail]
 * (file:line)", errno `ssl_errno`, library/reason attributes, and for
 * certificate failures verify_code/verify_message (verify_message is the
 * detail). Always drains the queue; returns NULL. */
static PyObject *
raise_ssl_error_full(tlsctx_state *state, PyObject *type, int ssl_errno, unsigned long code,
                     const char *message, PyObject *verify_code, PyObject *detail,
                     const char *file, int line)
{
    PyObject *lib_obj = NULL, *reason_obj = NULL, *msg = NULL, *exc = NULL;
    const char *text = message;

    if (type == NULL) {
        type = state->SSLError;
    }
    if (code != 0) {
        const char *lib = lib_name(ERR_GET_LIB(code));
        const char *reason = reason_name(ERR_GET_LIB(code), ERR_GET_REASON(code));
        if (lib != NULL && (lib_obj = PyUnicode_FromString(lib)) == NULL) {
            goto done;
        }
        if (reason != NULL && (reason_obj = PyUnicode_FromString(reason)) == NULL) {
            goto done;
        }
        if (text == NULL) {
            text = ERR_reason_error_string(code);
        }
    }
    /* an error without a text names its code, as CPython 3.14+ does */
    char unknown[48];
    if (text == NULL) {
        PyOS_snprintf(unknown, sizeof(unknown), "unknown error (0x%lx)", code);
        text = unknown;
    }
    if (lib_obj != NULL && reason_obj != NULL && detail != NULL) {
        msg = PyUnicode_FromFormat("[%S: %S] %s: %S (%s:%d)", lib_obj, reason_obj, text,
                                   detail, base_name(file), line);
    }
    else if (lib_obj != NULL && reason_obj != NULL) {
        msg = PyUnicode_FromFormat("[%S: %S] %s (%s:%d)", lib_obj, reason_obj, text,
                                   base_name(file), line);
    }
    else if (lib_obj != NULL) {
        msg = PyUnicode_FromFormat("[%S] %s (%s:%d)", lib_obj, text, base_name(file), line);
    }
    else {
        msg = PyUnicode_FromFormat("%s (%s:%d)", text, base_name(file), line);
    }
    if (msg == NULL) {
        goto done;
    }
    exc = PyObject_CallFunction(type, "iO", ERR_GET_REASON((unsigned long)ssl_errno), msg);
    if (exc == NULL) {
        goto done;
    }
    if (PyObject_SetAttr(exc, state->str_reason, reason_obj ? reason_obj : Py_None) < 0
        || PyObject_SetAttr(exc, state->str_library, lib_obj ? lib_obj : Py_None) < 0) {
        goto done;
    }
    if (verify_code != NULL
        && (PyObject_SetAttrString(exc, "verify_code", verify_code) < 0
            || PyObject_SetAttrString(exc, "verify_message", detail ? detail : Py_None) < 0)) {
        goto done;
    }
    PyErr_SetObject(type, exc);
done:
    Py_XDECREF(exc);
    Py_XDECREF(msg);
    Py_XDECREF(lib_obj);
    Py_XDECREF(reason_obj);
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
    return NULL;
}

PyObject *
tlsctx_raise_ssl_error_code(tlsctx_state *state, PyObject *type, int ssl_errno,
                            unsigned long code, const char *message,
                            const char *file, int line)
{
    return raise_ssl_error_full(state, type, ssl_errno, code, message, NULL, NULL, file, line);
}

/* The verify_message of a failed certificate verification, as the stdlib words it. */
static PyObject *
verify_message(long verify_code, PyObject *server_hostname)
{
    PyObject *host = server_hostname ? server_hostname : Py_None;
    switch (verify_code) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
        return PyUnicode_FromFormat("Hostname mismatch, certificate is not valid for '%S'.", host);
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return PyUnicode_FromFormat("IP address mismatch, certificate is not valid for '%S'.",
                                    host);
    }
    return PyUnicode_FromString(X509_verify_cert_error_string(verify_code));
}

PyObject *
tlsctx_raise_connection_error(tlsctx_state *state, SSL *ssl, int ssl_error, int saved_errno,
                              PyObject *server_hostname, const char *file, int line)
{
    unsigned long code = ERR_peek_last_error();
    PyObject *type = state->SSLError;
    const char *text = NULL;
    int number = ssl_error;    /* the stdlib's SSLErrorNumber */

    switch (ssl_error) {
    case SSL_ERROR_ZERO_RETURN:
        type = state->SSLZeroReturnError;
        text = "TLS/SSL connection has been closed (EOF)";
        break;
    case SSL_ERROR_WANT_READ:
        type = state->SSLWantReadError;
        text = "The operation did not complete (read)";
        break;
    case SSL_ERROR_WANT_WRITE:
        type = state->SSLWantWriteError;
        text = "The operation did not complete (write)";
        break;
    case SSL_ERROR_WANT_X509_LOOKUP:
        text = "The operation did not complete (X509 lookup)";
        break;
    case SSL_ERROR_WANT_CONNECT:
        text = "The operation did not complete (connect)";
        break;
    case SSL_ERROR_SYSCALL:
        if (code == 0) {
            /* the BIO failed: errno tells why, or the peer just went away */
            if (saved_errno != 0) {
                return tlsctx_raise_errno_or_ssl(state, saved_errno, NULL, file, line);
            }
            type = state->SSLEOFError;
            number = TLSCTX_SSL_ERROR_EOF;
            text = "EOF occurred in violation of protocol";
        }
        else if (ERR_GET_LIB(code) == ERR_LIB_SYS) {
            return tlsctx_raise_errno_or_ssl(state, ERR_GET_REASON(code), NULL, file, line);
        }
        else {
            type = state->SSLSyscallError;
            text = "Some I/O error occurred";
        }
        break;
    case SSL_ERROR_SSL:
        if (code == 0) {
            text = "A failure in the SSL library occurred";
        }
        else if (ERR_GET_LIB(code) == ERR_LIB_SYS) {
            return tlsctx_raise_errno_or_ssl(state, ERR_GET_REASON(code), NULL, file, line);
        }
        else if (ERR_GET_LIB(code) == ERR_LIB_SSL
                 && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            type = state->SSLEOFError;
            number = TLSCTX_SSL_ERROR_EOF;
            text = "EOF occurred in violation of protocol";
        }
        else if (ERR_GET_LIB(code) == ERR_LIB_SSL
                 && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl != NULL) {
            long verify_code = SSL_get_verify_result(ssl);
            PyObject *code_obj = PyLong_FromLong(verify_code);
            PyObject *detail = code_obj ? verify_message(verify_code, server_hostname) : NULL;
            if (detail == NULL) {
                Py_XDECREF(code_obj);
                ERR_clear_error();
                return NULL;
            }
            raise_ssl_error_full(state, state->SSLCertVerificationError, number, code, NULL,
                                 code_obj, detail, file, line);
            Py_DECREF(code_obj);
            Py_DECREF(detail);
            return NULL;
        }
        break;
    default:
        number = TLSCTX_SSL_ERROR_INVALID_ERROR_CODE;
        text = "Invalid error code";
    }
    return raise_ssl_error_full(state, type, number, code, text, NULL, NULL, file, line);
}

PyObject *
tlsctx_raise_ssl_error(tlsctx_state *state, PyObject *type,
                       const char *message, const char *file, int line)
{
    /* With a message of our own the queue is not the cause: like the stdlib,
     * report no library and errno 0. */
    unsigned long code = message == NULL ? ERR_peek_last_error() : 0;
    return tlsctx_raise_ssl_error_code(state, type, (int)code, code, message, file, line);
}

PyObject *
tlsctx_raise_errno_or_ssl(tlsctx_state *state, int saved_errno, PyObject *filename,
                          const char *file, int line)
{
    if (saved_errno != 0) {
        ERR_clear_error();
        errno = saved_errno;
        if (filename != NULL) {
            return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, filename);
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return tlsctx_raise_ssl_error(state, NULL, NULL, file, line);
}
