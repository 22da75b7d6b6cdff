/* tlsctx.SSLSession: an SSL_SESSION with the context it came from. */
#include "_tlsctx.h"

PyObject *
tlsctx_session_wrap(tlsctx_state *state, tlsctx_context *ctx, SSL_SESSION *session)
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
tlsctx_setup_session_type(PyObject *module, tlsctx_state *state)
{
    state->session_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &session_spec, NULL);
    if (state->session_type == NULL
        || PyModule_AddObjectRef(module, "SSLSession", (PyObject *)state->session_type) < 0) {
        return -1;
    }
    return 0;
}
