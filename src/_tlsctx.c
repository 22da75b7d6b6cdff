/* tlsctx._tlsctx: module definition, state lifetime and exec steps. */
#include "_tlsctx.h"

static int
check_openssl_version(PyObject *module)
{
    /* Built against 3.x but loaded with an older libssl: refuse, naming both. */
    unsigned long linked = OpenSSL_version_num();
    if ((linked >> 28) < 3) {
        PyErr_Format(PyExc_ImportError,
                     "tlsctx was built for %s but is running with %s; OpenSSL >= 3.0 is required",
                     OPENSSL_VERSION_TEXT, OpenSSL_version(OPENSSL_VERSION));
        return -1;
    }
    return 0;
}

static int
exec_error_tables(PyObject *module)
{
    return tlsctx_setup_error_tables(module, tlsctx_get_state(module));
}

static int
exec_exceptions(PyObject *module)
{
    return tlsctx_setup_exceptions(module, tlsctx_get_state(module));
}

static int
exec_constants(PyObject *module)
{
    return tlsctx_setup_constants(module, tlsctx_get_state(module));
}

static int
exec_context_type(PyObject *module)
{
    return tlsctx_setup_context_type(module, tlsctx_get_state(module));
}

static int
exec_certdecode(PyObject *module)
{
    return tlsctx_setup_certdecode(module, tlsctx_get_state(module));
}

static int
exec_certificate(PyObject *module)
{
    return tlsctx_setup_certificate(module, tlsctx_get_state(module));
}

static int
exec_trust_cache(PyObject *module)
{
    return tlsctx_setup_trust_cache(module, tlsctx_get_state(module));
}

static int
exec_connection_types(PyObject *module)
{
    tlsctx_state *state = tlsctx_get_state(module);
    if (tlsctx_setup_memory_bio_type(module, state) < 0
        || tlsctx_setup_session_type(module, state) < 0) {
        return -1;
    }
    return tlsctx_setup_connection_type(module, state);
}

static int
exec_modern(PyObject *module)
{
    return tlsctx_setup_modern(module, tlsctx_get_state(module));
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    tlsctx_state *state = tlsctx_get_state(module);
    Py_VISIT(state->context_type);
    Py_VISIT(state->connection_type);
    Py_VISIT(state->memory_bio_type);
    Py_VISIT(state->session_type);
    Py_VISIT(state->certificate_type);
    Py_VISIT(state->SSLError);
    Py_VISIT(state->SSLZeroReturnError);
    Py_VISIT(state->SSLWantReadError);
    Py_VISIT(state->SSLWantWriteError);
    Py_VISIT(state->SSLSyscallError);
    Py_VISIT(state->SSLEOFError);
    Py_VISIT(state->SSLCertVerificationError);
    Py_VISIT(state->default_ciphers);
    Py_VISIT(state->str_read);
    Py_VISIT(state->str_write);
    Py_VISIT(state->str_pending);
    Py_VISIT(state->str_eof);
    Py_VISIT(state->str_reason);
    Py_VISIT(state->str_library);
    return 0;
}

static int
module_clear(PyObject *module)
{
    tlsctx_state *state = tlsctx_get_state(module);
    Py_CLEAR(state->context_type);
    Py_CLEAR(state->connection_type);
    Py_CLEAR(state->memory_bio_type);
    Py_CLEAR(state->session_type);
    Py_CLEAR(state->certificate_type);
    Py_CLEAR(state->SSLError);
    Py_CLEAR(state->SSLZeroReturnError);
    Py_CLEAR(state->SSLWantReadError);
    Py_CLEAR(state->SSLWantWriteError);
    Py_CLEAR(state->SSLSyscallError);
    Py_CLEAR(state->SSLEOFError);
    Py_CLEAR(state->SSLCertVerificationError);
    Py_CLEAR(state->default_ciphers);
    Py_CLEAR(state->str_read);
    Py_CLEAR(state->str_write);
    Py_CLEAR(state->str_pending);
    Py_CLEAR(state->str_eof);
    Py_CLEAR(state->str_reason);
    Py_CLEAR(state->str_library);
    return 0;
}

static void
module_free(void *module)
{
    tlsctx_state *state = tlsctx_get_state((PyObject *)module);
    module_clear((PyObject *)module);
    if (state->trust_cache != NULL) {
        tlsctx_trust_cache_free(state->trust_cache);
        state->trust_cache = NULL;
    }
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, check_openssl_version},
    {Py_mod_exec, exec_error_tables},
    {Py_mod_exec, exec_exceptions},
    {Py_mod_exec, exec_constants},
    {Py_mod_exec, exec_context_type},
    {Py_mod_exec, exec_certdecode},
    {Py_mod_exec, exec_certificate},
    {Py_mod_exec, exec_trust_cache},
    {Py_mod_exec, exec_connection_types},
    {Py_mod_exec, exec_modern},
#if PY_VERSION_HEX >= 0x030C0000
    /* state lives in the module; callbacks run in the interpreter that made
     * the OpenSSL call (threading.c). One GIL for all until tested without. */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

PyModuleDef tlsctx_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tlsctx._tlsctx",
    .m_doc = "TLS contexts over OpenSSL 3, compatible with the stdlib ssl module.",
    .m_size = sizeof(tlsctx_state),
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__tlsctx(void)
{
    return PyModuleDef_Init(&tlsctx_module_def);
}
