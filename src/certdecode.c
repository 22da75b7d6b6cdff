/* Certificates as the stdlib shows them: X509 -> dict, DER, ASN.1 objects. */
#include "_tlsctx.h"

PyObject *
tlsctx_decode_certificate(tlsctx_state *state, X509 *cert)
{
    PyErr_SetString(PyExc_NotImplementedError, "certificate decoding is not implemented yet");
    return NULL;
}

PyObject *
tlsctx_certificate_der(tlsctx_state *state, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len < 0) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)der, len);
    OPENSSL_free(der);
    return result;
}


/* ---- ASN.1 objects: txt2obj / nid2obj ----------------------------------- */

/* (nid, shortname, longname, dotted oid), the stdlib's _ASN1Object fields */
static PyObject *
asn1obj_tuple(tlsctx_state *state, const ASN1_OBJECT *obj)
{
    char oid[256];
    int nid = OBJ_obj2nid(obj);
    if (nid == NID_undef) {
        PyErr_SetString(PyExc_ValueError, "Unknown object");
        return NULL;
    }
    int len = OBJ_obj2txt(oid, sizeof(oid), obj, 1);
    if (len < 0) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    if ((size_t)len >= sizeof(oid)) {
        len = (int)sizeof(oid) - 1;
    }
    return Py_BuildValue("(isss#)", nid, OBJ_nid2sn(nid), OBJ_nid2ln(nid), oid, (Py_ssize_t)len);
}

static PyObject *
txt2obj(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"txt", "name", NULL};
    PyObject *txt_obj;
    int by_name = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p:txt2obj", keywords, &txt_obj, &by_name)) {
        return NULL;
    }
    if (!PyUnicode_Check(txt_obj)) {
        PyErr_Format(PyExc_TypeError, "txt2obj() argument 'txt' must be str, not %.100s",
                     txt_obj == Py_None ? "None" : Py_TYPE(txt_obj)->tp_name);
        return NULL;
    }
    Py_ssize_t txt_len;
    const char *txt = PyUnicode_AsUTF8AndSize(txt_obj, &txt_len);
    if (txt == NULL) {
        return NULL;
    }
    if ((size_t)txt_len != strlen(txt)) {
        PyErr_SetString(PyExc_ValueError, "embedded null character");
        return NULL;
    }
    ASN1_OBJECT *obj = OBJ_txt2obj(txt, by_name ? 0 : 1);
    if (obj == NULL) {
        ERR_clear_error();
        PyErr_Format(PyExc_ValueError, "unknown object '%.100s'", txt);
        return NULL;
    }
    PyObject *result = asn1obj_tuple(tlsctx_get_state(module), obj);
    ASN1_OBJECT_free(obj);
    return result;
}

static PyObject *
nid2obj(PyObject *module, PyObject *arg)
{
    int nid;
    if (!PyArg_Parse(arg, "i:nid2obj", &nid)) {
        return NULL;
    }
    if (nid < NID_undef) {
        PyErr_SetString(PyExc_ValueError, "NID must be positive.");
        return NULL;
    }
    ASN1_OBJECT *obj = OBJ_nid2obj(nid);
    if (obj == NULL) {
        ERR_clear_error();
        PyErr_Format(PyExc_ValueError, "unknown NID %i", nid);
        return NULL;
    }
    PyObject *result = asn1obj_tuple(tlsctx_get_state(module), obj);
    ASN1_OBJECT_free(obj);
    return result;
}

static PyMethodDef certdecode_functions[] = {
    {"txt2obj", (PyCFunction)(void (*)(void))txt2obj, METH_VARARGS | METH_KEYWORDS,
     "Look up an ASN.1 object by dotted OID, or by name with name=True."},
    {"nid2obj", nid2obj, METH_O, "Look up an ASN.1 object by its OpenSSL NID."},
    {NULL},
};

int
tlsctx_setup_certdecode(PyObject *module, tlsctx_state *state)
{
    return PyModule_AddFunctions(module, certdecode_functions);
}
