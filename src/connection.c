/* TLS connections over a socket or memory BIOs; MemoryBIO; SSLSession. */
#include "_tlsctx.h"

PyObject *
tlsctx_context_wrap_socket(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    PyErr_SetString(PyExc_NotImplementedError, "connections are not implemented yet");
    return NULL;
}

PyObject *
tlsctx_context_wrap_bio(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    PyErr_SetString(PyExc_NotImplementedError, "connections are not implemented yet");
    return NULL;
}

PyObject *
tlsctx_connection_for_callback(SSL *ssl)
{
    return Py_NewRef(Py_None);
}

void
tlsctx_connection_stash_exception(SSL *ssl)
{
    PyErr_WriteUnraisable(NULL);
}

int
tlsctx_setup_connection_types(PyObject *module, tlsctx_state *state)
{
    return 0;
}
