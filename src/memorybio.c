/* tlsctx.MemoryBIO: an OpenSSL memory BIO as the stdlib's ssl.MemoryBIO. */
#include "_tlsctx.h"

static PyObject *
memory_bio_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "MemoryBIO() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, ":MemoryBIO")) {
        return NULL;
    }
    PyObject *module = PyType_GetModuleByDef(type, &tlsctx_module_def);
    if (module == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return tlsctx_set_ssl_error(tlsctx_get_state(module), NULL);
    }
    /* empty means "wait for more" until write_eof() */
    BIO_set_retry_read(bio);
    BIO_set_mem_eof_return(bio, -1);
    tlsctx_memory_bio *self = (tlsctx_memory_bio *)type->tp_alloc(type, 0);
    if (self == NULL) {
        BIO_free(bio);
        return NULL;
    }
    self->bio = bio;
    self->eof_written = 0;
    return (PyObject *)self;
}

static void
memory_bio_dealloc(tlsctx_memory_bio *self)
{
    PyTypeObject *type = Py_TYPE(self);
    BIO_free(self->bio);
    type->tp_free(self);
    Py_DECREF(type);
}

static tlsctx_state *
memory_bio_state(tlsctx_memory_bio *self)
{
    return tlsctx_state_from_type(Py_TYPE(self));
}

static PyObject *
memory_bio_read(tlsctx_memory_bio *self, PyObject *args)
{
    int len = -1;
    if (!PyArg_ParseTuple(args, "|i:read", &len)) {
        return NULL;
    }
    size_t pending = BIO_ctrl_pending(self->bio);
    int avail = pending > INT_MAX ? INT_MAX : (int)pending;
    if (len < 0 || len > avail) {
        len = avail;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, len);
    if (result == NULL || len == 0) {
        return result;
    }
    int n = BIO_read(self->bio, PyBytes_AS_STRING(result), len);
    if (n < 0) {
        Py_DECREF(result);
        return tlsctx_set_ssl_error(memory_bio_state(self), NULL);
    }
    if (n < len) {
        Py_SETREF(result, PyBytes_FromStringAndSize(PyBytes_AS_STRING(result), n));
    }
    return result;
}

static PyObject *
memory_bio_write(tlsctx_memory_bio *self, PyObject *arg)
{
    Py_buffer b;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (b.len > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "string longer than %d bytes", INT_MAX);
        goto done;
    }
    if (self->eof_written) {
        PyErr_SetString(memory_bio_state(self)->SSLError, "cannot write() after write_eof()");
        goto done;
    }
    int n = BIO_write(self->bio, b.buf, (int)b.len);
    if (n < 0) {
        tlsctx_set_ssl_error(memory_bio_state(self), NULL);
        goto done;
    }
    result = PyLong_FromLong(n);
done:
    PyBuffer_Release(&b);
    return result;
}

static PyObject *
memory_bio_write_eof(tlsctx_memory_bio *self, PyObject *unused)
{
    self->eof_written = 1;
    /* once drained, reads report end of file instead of "retry" */
    BIO_clear_retry_flags(self->bio);
    BIO_set_mem_eof_return(self->bio, 0);
    Py_RETURN_NONE;
}

static PyObject *
memory_bio_get_pending(tlsctx_memory_bio *self, void *closure)
{
    return PyLong_FromSize_t(BIO_ctrl_pending(self->bio));
}

static PyObject *
memory_bio_get_eof(tlsctx_memory_bio *self, void *closure)
{
    return PyBool_FromLong(BIO_ctrl_pending(self->bio) == 0 && self->eof_written);
}

static PyMethodDef memory_bio_methods[] = {
    {"read", (PyCFunction)memory_bio_read, METH_VARARGS, NULL},
    {"write", (PyCFunction)memory_bio_write, METH_O, NULL},
    {"write_eof", (PyCFunction)memory_bio_write_eof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef memory_bio_getset[] = {
    {"pending", (getter)memory_bio_get_pending, NULL, "The number of bytes pending in the memory BIO.", NULL},
    {"eof", (getter)memory_bio_get_eof, NULL, "Whether the memory BIO is at EOF.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot memory_bio_slots[] = {
    {Py_tp_new, memory_bio_new},
    {Py_tp_dealloc, memory_bio_dealloc},
    {Py_tp_methods, memory_bio_methods},
    {Py_tp_getset, memory_bio_getset},
    {0, NULL},
};

static PyType_Spec memory_bio_spec = {
    .name = "tlsctx.MemoryBIO",
    .basicsize = sizeof(tlsctx_memory_bio),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = memory_bio_slots,
};

int
tlsctx_setup_memory_bio_type(PyObject *module, tlsctx_state *state)
{
    state->memory_bio_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &memory_bio_spec, NULL);
    if (state->memory_bio_type == NULL
        || PyModule_AddObjectRef(module, "MemoryBIO", (PyObject *)state->memory_bio_type) < 0) {
        return -1;
    }
    return 0;
}
