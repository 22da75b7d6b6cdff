/* Certificates as the stdlib shows them: X509 -> dict, DER, ASN.1 objects.
 *
 * The dictionary is the one CPython's getpeercert() / get_ca_certs() /
 * _test_decode_cert() build.  Every value is rendered with the OpenSSL call
 * the stdlib relies on (ASN1_TIME_print, i2a_ASN1_INTEGER, GENERAL_NAME_print,
 * ASN1_STRING_to_UTF8 ...), read back one line at a time through the same
 * sized buffer, so that odd certificates (long serials, bad times, strange
 * general names) come out exactly as the stdlib shows them. */
#include "_tlsctx.h"

#include <openssl/pem.h>

/* The stdlib reads printed values with BIO_gets into a 2048-byte buffer,
 * asking for at most 2047 bytes: longer renderings are cut there. */
#define LINE_BUFFER 2048

/* ---- small helpers -------------------------------------------------------- */

/* Store `value` (stolen) under `key`; Py_None means "leave the key out". */
static int
dict_put(PyObject *dict, const char *key, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    int rc = 0;
    if (value != Py_None) {
        rc = PyDict_SetItemString(dict, key, value);
    }
    Py_DECREF(value);
    return rc;
}

/* A list turned into a tuple, or None (new reference) when it is empty:
 * the stdlib leaves a key out rather than showing an empty tuple. */
static PyObject *
tuple_or_none(PyObject *list)
{
    if (list == NULL) {
        return NULL;
    }
    PyObject *result = PyList_GET_SIZE(list) > 0 ? PyList_AsTuple(list) : Py_NewRef(Py_None);
    Py_DECREF(list);
    return result;
}

/* One line of what was printed into `bio`, as str; the BIO is emptied. */
static PyObject *
bio_line(tlsctx_state *state, BIO *bio)
{
    char line[LINE_BUFFER];
    int len = BIO_gets(bio, line, (int)sizeof(line) - 1);
    (void)BIO_reset(bio);
    if (len < 0) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    return PyUnicode_DecodeUTF8(line, len, NULL);
}

/* An OID as text: its long name when OpenSSL knows one, else dotted. */
static PyObject *
object_text(tlsctx_state *state, const ASN1_OBJECT *obj)
{
    char small[256];
    char *text = small;
    PyObject *result = NULL;
    int len = OBJ_obj2txt(small, (int)sizeof(small), obj, 0);
    if (len < 0) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    if (len >= (int)sizeof(small)) {
        /* huge OIDs: ask again with room for all of it */
        text = PyMem_Malloc((size_t)len + 1);
        if (text == NULL) {
            return PyErr_NoMemory();
        }
        len = OBJ_obj2txt(text, len + 1, obj, 0);
        if (len < 0) {
            tlsctx_set_ssl_error(state, NULL);
            goto done;
        }
    }
    result = PyUnicode_DecodeUTF8(text, len, NULL);
done:
    if (text != small) {
        PyMem_Free(text);
    }
    return result;
}

/* ---- names ---------------------------------------------------------------- */

/* (attribute name, value as text) for one entry of a distinguished name. */
static PyObject *
name_attribute(tlsctx_state *state, const X509_NAME_ENTRY *entry)
{
    unsigned char *utf8 = NULL;
    PyObject *key = NULL, *value = NULL, *result = NULL;
    key = object_text(state, X509_NAME_ENTRY_get_object(entry));
    if (key == NULL) {
        goto done;
    }
    /* every string type (BMP, T61, Universal ...) is converted to UTF-8 */
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) {
        tlsctx_set_ssl_error(state, NULL);
        goto done;
    }
    value = PyUnicode_DecodeUTF8((const char *)utf8, len, NULL);
    if (value == NULL) {
        goto done;
    }
    result = PyTuple_Pack(2, key, value);
done:
    OPENSSL_free(utf8);
    Py_XDECREF(key);
    Py_XDECREF(value);
    return result;
}

/* A distinguished name as a tuple of RDNs, each a tuple of attributes:
 * entries sharing a set number form one (multi-valued) RDN. */
static PyObject *
name_to_tuple(tlsctx_state *state, const X509_NAME *name)
{
    PyObject *rdns = PyList_New(0);
    PyObject *current = NULL;
    int current_set = -1;
    if (rdns == NULL) {
        return NULL;
    }
    int count = X509_NAME_entry_count(name);
    for (int i = 0; i < count; i++) {
        const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, i);
        int set = X509_NAME_ENTRY_set(entry);
        if (current != NULL && set != current_set) {
            PyObject *rdn = PyList_AsTuple(current);
            Py_CLEAR(current);
            int rc = rdn == NULL ? -1 : PyList_Append(rdns, rdn);
            Py_XDECREF(rdn);
            if (rc < 0) {
                goto error;
            }
        }
        if (current == NULL) {
            current = PyList_New(0);
            if (current == NULL) {
                goto error;
            }
        }
        current_set = set;
        PyObject *attribute = name_attribute(state, entry);
        int rc = attribute == NULL ? -1 : PyList_Append(current, attribute);
        Py_XDECREF(attribute);
        if (rc < 0) {
            goto error;
        }
    }
    if (current != NULL) {
        PyObject *rdn = PyList_AsTuple(current);
        Py_CLEAR(current);
        int rc = rdn == NULL ? -1 : PyList_Append(rdns, rdn);
        Py_XDECREF(rdn);
        if (rc < 0) {
            goto error;
        }
    }
    PyObject *result = PyList_AsTuple(rdns);
    Py_DECREF(rdns);
    return result;
error:
    Py_XDECREF(current);
    Py_DECREF(rdns);
    return NULL;
}

/* ---- subjectAltName ------------------------------------------------------- */

/* IPv4 dotted, IPv6 as eight upper-case hex groups without compression,
 * anything else "<invalid>": the stdlib's own formatting. */
static PyObject *
ip_address_text(const ASN1_OCTET_STRING *ip)
{
    const unsigned char *b = ASN1_STRING_get0_data(ip);
    char text[64];
    switch (ASN1_STRING_length(ip)) {
    case 4:
        snprintf(text, sizeof(text), "%d.%d.%d.%d", b[0], b[1], b[2], b[3]);
        break;
    case 16: {
        size_t used = 0;
        for (int group = 0; group < 8; group++) {
            used += (size_t)snprintf(text + used, sizeof(text) - used, group ? ":%X" : "%X",
                                     (unsigned int)(b[2 * group] << 8 | b[2 * group + 1]));
        }
        break;
    }
    default:
        return PyUnicode_FromString("<invalid>");
    }
    return PyUnicode_FromString(text);
}

/* A registered ID as text, as the stdlib bounds it. */
static PyObject *
registered_id_text(tlsctx_state *state, const ASN1_OBJECT *rid)
{
    char text[LINE_BUFFER];
    int len = OBJ_obj2txt(text, (int)sizeof(text) - 1, rid, 0);
    if (len < 0) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    if (len >= (int)sizeof(text)) {
        return PyUnicode_FromString("<INVALID>");
    }
    return PyUnicode_DecodeUTF8(text, len, NULL);
}

/* Other names, X.400 and EDI party names: OpenSSL's printed form, split at
 * its first colon into (kind, value). */
static PyObject *
printed_general_name(tlsctx_state *state, BIO *bio, GENERAL_NAME *gn)
{
    char line[LINE_BUFFER];
    (void)BIO_reset(bio);
    GENERAL_NAME_print(bio, gn);
    int len = BIO_gets(bio, line, (int)sizeof(line) - 1);
    (void)BIO_reset(bio);
    if (len < 0) {
        return tlsctx_set_ssl_error(state, NULL);
    }
    /* like the stdlib, the text ends at a NUL for finding the colon */
    const char *colon = strchr(line, ':');
    if (colon == NULL) {
        PyErr_Format(PyExc_ValueError, "Invalid value %.200s", line);
        return NULL;
    }
    Py_ssize_t kind_len = colon - line;
    PyObject *kind = PyUnicode_DecodeUTF8(line, kind_len, NULL);
    if (kind == NULL) {
        return NULL;
    }
    PyObject *value = PyUnicode_DecodeUTF8(colon + 1, len - kind_len - 1, NULL);
    if (value == NULL) {
        Py_DECREF(kind);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, kind, value);
    Py_DECREF(kind);
    Py_DECREF(value);
    return result;
}

/* (kind, value) for a string-valued general name, NUL bytes included. */
static PyObject *
string_general_name(const char *kind, const ASN1_STRING *value)
{
    PyObject *text = PyUnicode_DecodeUTF8((const char *)ASN1_STRING_get0_data(value),
                                          ASN1_STRING_length(value), NULL);
    if (text == NULL) {
        return NULL;
    }
    PyObject *result = Py_BuildValue("(sN)", kind, text);
    return result;
}

static PyObject *
general_name_tuple(tlsctx_state *state, BIO *bio, GENERAL_NAME *gn)
{
    switch (gn->type) {
    case GEN_DIRNAME:
        return Py_BuildValue("(sN)", "DirName", name_to_tuple(state, gn->d.directoryName));
    case GEN_EMAIL:
        return string_general_name("email", gn->d.rfc822Name);
    case GEN_DNS:
        return string_general_name("DNS", gn->d.dNSName);
    case GEN_URI:
        return string_general_name("URI", gn->d.uniformResourceIdentifier);
    case GEN_RID:
        return Py_BuildValue("(sN)", "Registered ID", registered_id_text(state, gn->d.registeredID));
    case GEN_IPADD:
        return Py_BuildValue("(sN)", "IP Address", ip_address_text(gn->d.iPAddress));
    case GEN_OTHERNAME:
    case GEN_X400:
    case GEN_EDIPARTY:
        break;
    default:
        if (PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "Unknown general name type %d",
                             gn->type) < 0) {
            return NULL;
        }
        break;
    }
    return printed_general_name(state, bio, gn);
}

/* The subjectAltName tuple, or None when the certificate has no (readable)
 * extension; an extension with no names still gives an empty tuple. */
static PyObject *
alt_names(tlsctx_state *state, X509 *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    BIO *bio = NULL;
    PyObject *list = NULL, *result = NULL;
    if (names == NULL) {
        return Py_NewRef(Py_None);
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        tlsctx_set_ssl_error(state, NULL);
        goto done;
    }
    list = PyList_New(0);
    if (list == NULL) {
        goto done;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        PyObject *item = general_name_tuple(state, bio, sk_GENERAL_NAME_value(names, i));
        int rc = item == NULL ? -1 : PyList_Append(list, item);
        Py_XDECREF(item);
        if (rc < 0) {
            goto done;
        }
    }
    result = PyList_AsTuple(list);
done:
    Py_XDECREF(list);
    BIO_free(bio);
    GENERAL_NAMES_free(names);
    return result;
}

/* ---- authority information access, CRL distribution points ---------------- */

/* Append a URI as str to *list; on failure drop the list (*list = NULL),
 * leaving the exception set, so the caller's loop stops. */
static void
append_uri(PyObject **list, const ASN1_STRING *uri)
{
    PyObject *text = PyUnicode_DecodeUTF8((const char *)ASN1_STRING_get0_data(uri),
                                          ASN1_STRING_length(uri), NULL);
    if (text == NULL || PyList_Append(*list, text) < 0) {
        Py_CLEAR(*list);
    }
    Py_XDECREF(text);
}

/* The URIs of the AIA entries with access method `nid`, or None. */
static PyObject *
aia_uris(X509 *cert, int nid)
{
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
    if (aia == NULL) {
        return Py_NewRef(Py_None);
    }
    PyObject *list = PyList_New(0);
    for (int i = 0; list != NULL && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) != nid || ad->location->type != GEN_URI) {
            continue;
        }
        append_uri(&list, ad->location->d.uniformResourceIdentifier);
    }
    AUTHORITY_INFO_ACCESS_free(aia);
    return tuple_or_none(list);
}

/* The URIs among the full names of the distribution points, or None. */
static PyObject *
crl_distribution_points(X509 *cert)
{
    CRL_DIST_POINTS *points = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    if (points == NULL) {
        return Py_NewRef(Py_None);
    }
    PyObject *list = PyList_New(0);
    for (int i = 0; list != NULL && i < sk_DIST_POINT_num(points); i++) {
        const DIST_POINT *point = sk_DIST_POINT_value(points, i);
        /* points without a name (CVE-2019-5010) or named relative to the
         * issuer have no URI to show */
        if (point->distpoint == NULL || point->distpoint->type != 0) {
            continue;
        }
        const GENERAL_NAMES *names = point->distpoint->name.fullname;
        for (int j = 0; list != NULL && j < sk_GENERAL_NAME_num(names); j++) {
            const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
            if (gn->type != GEN_URI) {
                continue;
            }
            append_uri(&list, gn->d.uniformResourceIdentifier);
        }
    }
    CRL_DIST_POINTS_free(points);
    return tuple_or_none(list);
}

/* ---- the certificate ------------------------------------------------------ */

PyObject *
tlsctx_decode_certificate(tlsctx_state *state, X509 *cert)
{
    BIO *bio = NULL;
    PyObject *result = PyDict_New();
    if (result == NULL) {
        return NULL;
    }
    if (dict_put(result, "subject", name_to_tuple(state, X509_get_subject_name(cert))) < 0
        || dict_put(result, "issuer", name_to_tuple(state, X509_get_issuer_name(cert))) < 0
        || dict_put(result, "version", PyLong_FromLong(X509_get_version(cert) + 1)) < 0) {
        goto error;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        tlsctx_set_ssl_error(state, NULL);
        goto error;
    }
    /* upper-case hex pairs; OpenSSL wraps very long serials ("\\\n" every
     * 35 bytes), and like the stdlib only the first line is kept */
    i2a_ASN1_INTEGER(bio, X509_get0_serialNumber(cert));
    if (dict_put(result, "serialNumber", bio_line(state, bio)) < 0) {
        goto error;
    }
    /* "Mon DD HH:MM:SS YYYY GMT", or OpenSSL's "Bad time value" */
    ASN1_TIME_print(bio, X509_get0_notBefore(cert));
    if (dict_put(result, "notBefore", bio_line(state, bio)) < 0) {
        goto error;
    }
    ASN1_TIME_print(bio, X509_get0_notAfter(cert));
    if (dict_put(result, "notAfter", bio_line(state, bio)) < 0) {
        goto error;
    }
    if (dict_put(result, "subjectAltName", alt_names(state, cert)) < 0
        || dict_put(result, "OCSP", aia_uris(cert, NID_ad_OCSP)) < 0
        || dict_put(result, "caIssuers", aia_uris(cert, NID_ad_ca_issuers)) < 0
        || dict_put(result, "crlDistributionPoints", crl_distribution_points(cert)) < 0) {
        goto error;
    }
    BIO_free(bio);
    /* unreadable extensions count as absent, as in the stdlib; their
     * parse errors must not linger on the queue */
    ERR_clear_error();
    return result;
error:
    BIO_free(bio);
    Py_DECREF(result);
    ERR_clear_error();
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

/* txt2obj's and nid2obj's result; frees obj, which they looked up. */
static PyObject *
asn1obj_tuple_freeing(PyObject *module, ASN1_OBJECT *obj)
{
    PyObject *result = asn1obj_tuple(tlsctx_get_state(module), obj);
    ASN1_OBJECT_free(obj);
    return result;
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
    return asn1obj_tuple_freeing(module, obj);
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
    return asn1obj_tuple_freeing(module, obj);
}


/* ---- _test_decode_cert ---------------------------------------------------- */

/* The first PEM certificate of a file, decoded; errors worded as the
 * stdlib's (plain SSLError messages, no library or reason). */
static PyObject *
test_decode_cert(PyObject *module, PyObject *arg)
{
    tlsctx_state *state = tlsctx_get_state(module);
    PyObject *path = NULL, *result = NULL;
    BIO *bio = NULL;
    X509 *cert = NULL;
    if (!PyUnicode_FSConverter(arg, &path)) {
        return NULL;
    }
    bio = BIO_new(BIO_s_file());
    if (bio == NULL) {
        PyErr_SetString(state->SSLError, "Can't malloc memory to read file");
        goto done;
    }
    if (BIO_read_filename(bio, PyBytes_AS_STRING(path)) <= 0) {
        PyErr_SetString(state->SSLError, "Can't open file");
        goto done;
    }
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert == NULL) {
        PyErr_SetString(state->SSLError, "Error decoding PEM-encoded file");
        goto done;
    }
    result = tlsctx_decode_certificate(state, cert);
done:
    X509_free(cert);
    BIO_free(bio);
    Py_DECREF(path);
    ERR_clear_error();
    return result;
}

static PyMethodDef certdecode_functions[] = {
    {"_test_decode_cert", test_decode_cert, METH_O,
     "Decode the first PEM certificate of a file as getpeercert() shows it."},
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
