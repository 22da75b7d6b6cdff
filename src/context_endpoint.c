/* Endpoint configuration of a context: certificates and keys, ciphers,
 * ALPN, curves, DH parameters, SNI/PSK callbacks, key logging, tickets. */
#include "_tlsctx.h"

#define NOT_YET(name) \
    PyErr_SetString(PyExc_NotImplementedError, name " is not implemented yet")

int
tlsctx_context_endpoint_init(tlsctx_context *self)
{
    return 0;
}

void
tlsctx_context_endpoint_free(tlsctx_context *self)
{
}

PyObject *
tlsctx_context_load_cert_chain(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    NOT_YET("load_cert_chain");
    return NULL;
}

PyObject *
tlsctx_context_set_ciphers(tlsctx_context *self, PyObject *arg)
{
    NOT_YET("set_ciphers");
    return NULL;
}

PyObject *
tlsctx_context_get_ciphers(tlsctx_context *self, PyObject *unused)
{
    NOT_YET("get_ciphers");
    return NULL;
}

PyObject *
tlsctx_context_set_alpn_protocols(tlsctx_context *self, PyObject *arg)
{
    NOT_YET("_set_alpn_protocols");
    return NULL;
}

PyObject *
tlsctx_context_set_ecdh_curve(tlsctx_context *self, PyObject *arg)
{
    NOT_YET("set_ecdh_curve");
    return NULL;
}

PyObject *
tlsctx_context_load_dh_params(tlsctx_context *self, PyObject *arg)
{
    NOT_YET("load_dh_params");
    return NULL;
}

PyObject *
tlsctx_context_session_stats(tlsctx_context *self, PyObject *unused)
{
    NOT_YET("session_stats");
    return NULL;
}

PyObject *
tlsctx_context_set_psk_client_callback(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    NOT_YET("set_psk_client_callback");
    return NULL;
}

PyObject *
tlsctx_context_set_psk_server_callback(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    NOT_YET("set_psk_server_callback");
    return NULL;
}

PyObject *
tlsctx_context_get_sni_callback(tlsctx_context *self, void *closure)
{
    return Py_NewRef(self->sni_callback ? self->sni_callback : Py_None);
}

int
tlsctx_context_set_sni_callback(tlsctx_context *self, PyObject *value, void *closure)
{
    NOT_YET("sni_callback");
    return -1;
}

PyObject *
tlsctx_context_get_keylog_filename(tlsctx_context *self, void *closure)
{
    return Py_NewRef(self->keylog_filename ? self->keylog_filename : Py_None);
}

int
tlsctx_context_set_keylog_filename(tlsctx_context *self, PyObject *value, void *closure)
{
    NOT_YET("keylog_filename");
    return -1;
}

PyObject *
tlsctx_context_get_num_tickets(tlsctx_context *self, void *closure)
{
    return PyLong_FromSize_t(SSL_CTX_get_num_tickets(self->ctx));
}

int
tlsctx_context_set_num_tickets(tlsctx_context *self, PyObject *value, void *closure)
{
    NOT_YET("num_tickets");
    return -1;
}
