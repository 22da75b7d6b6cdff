/* tlsctx._opensslprobe: the OpenSSL version this package was built with and
 * the one it runs with, read through the two calls every OpenSSL 3 has.
 * tlsctx/__init__.py asks it before loading _tlsctx, whose newer symbols
 * would otherwise fail the import with a bare "undefined symbol". */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

static int
probe_exec(PyObject *module)
{
    if (PyModule_AddIntConstant(module, "BUILT_NUMBER", (long)OPENSSL_VERSION_NUMBER) < 0
        || PyModule_AddStringConstant(module, "BUILT_TEXT", OPENSSL_VERSION_TEXT) < 0
        || PyModule_AddIntConstant(module, "RUNTIME_NUMBER", (long)OpenSSL_version_num()) < 0
        || PyModule_AddStringConstant(module, "RUNTIME_TEXT", OpenSSL_version(OPENSSL_VERSION))
               < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot probe_slots[] = {
    {Py_mod_exec, probe_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static PyModuleDef probe_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tlsctx._opensslprobe",
    .m_size = 0,
    .m_slots = probe_slots,
};

PyMODINIT_FUNC
PyInit__opensslprobe(void)
{
    return PyModuleDef_Init(&probe_def);
}
