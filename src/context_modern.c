/* CPython 3.15's context API on every interpreter: key-exchange groups,
 * TLS 1.3 cipher suites and signature algorithms, plus the per-connection
 * answers (group, client and server signature algorithm) that the
 * connection type exposes.
 *
 * Where the linked OpenSSL lacks a call, 3.15 raises NotImplementedError;
 * where OpenSSL 3.0 offers another way to the same answer, we answer
 * (docs/differences-3.15.md lists those cases). */
#include "_tlsctx.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

/* OpenSSL releases that added the calls 3.15 relies on. */
#define TLSCTX_HAVE_GROUP_NAME (OPENSSL_VERSION_NUMBER >= 0x30200000L)
#define TLSCTX_HAVE_BUILTIN_SIGALGS (OPENSSL_VERSION_NUMBER >= 0x30400000L)
#define TLSCTX_HAVE_IMPLEMENTED_GROUPS (OPENSSL_VERSION_NUMBER >= 0x30500000L)
#define TLSCTX_HAVE_SIGNATURE_NAME (OPENSSL_VERSION_NUMBER >= 0x30500000L)

/* A str argument as argument clinic's `str` converter takes it: the
 * TypeError and the embedded-NUL ValueError read as in the stdlib. */
static const char *
str_argument(PyObject *arg, const char *funcname)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be str, not %.50s", funcname,
                     arg == Py_None ? "None" : Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &size);
    if (text == NULL) {
        return NULL;
    }
    if (strlen(text) != (size_t)size) {
        PyErr_SetString(PyExc_ValueError, "embedded null character");
        return NULL;
    }
    return text;
}

#if TLSCTX_HAVE_BUILTIN_SIGALGS
/* "a:b:c" -> ['a', 'b', 'c'], empty items dropped. */
static PyObject *
split_names(const char *names)
{
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    const char *start = names;
    while (*start != '\0') {
        const char *end = strchr(start, ':');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len > 0) {
            PyObject *item = PyUnicode_FromStringAndSize(start, (Py_ssize_t)len);
            if (item == NULL || PyList_Append(result, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(result);
                return NULL;
            }
            Py_DECREF(item);
        }
        if (end == NULL) {
            break;
        }
        start = end + 1;
    }
    return result;
}
#endif

/* A list setter failed. OpenSSL's queue says no more than "passed invalid
 * argument" (or nothing), so like set_ciphers we give our own message,
 * without library or reason, and drain the queue. A macro, so that the
 * message's location is the caller's. */
#define setter_error(state, message) \
    (ERR_clear_error(), tlsctx_set_ssl_error((state), (message)))

/* ---- SSLContext methods ----------------------------------------------- */

PyObject *
tlsctx_context_set_groups(tlsctx_context *self, PyObject *arg)
{
    const char *groups = str_argument(arg, "set_groups");
    if (groups == NULL) {
        return NULL;
    }
    ERR_clear_error();
    /* OpenSSL parses the whole list first and keeps the old one on failure */
    if (SSL_CTX_set1_groups_list(self->ctx, groups) != 1) {
        return setter_error(self->state, "unrecognized group");
    }
    Py_RETURN_NONE;
}

PyObject *
tlsctx_context_get_groups(tlsctx_context *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"include_aliases", NULL};
    int include_aliases = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:get_groups", keywords,
                                     &include_aliases)) {
        return NULL;
    }
#if TLSCTX_HAVE_IMPLEMENTED_GROUPS
    PyObject *result = NULL;
    STACK_OF(OPENSSL_CSTRING) *names = sk_OPENSSL_CSTRING_new_null();
    if (names == NULL) {
        return tlsctx_set_ssl_error(self->state, NULL);
    }
    ERR_clear_error();
    /* filtered by the context's minimum and maximum protocol versions */
    if (SSL_CTX_get0_implemented_groups(self->ctx, include_aliases, names) != 1) {
        tlsctx_set_ssl_error(self->state, NULL);
        goto done;
    }
    result = PyList_New(0);
    if (result == NULL) {
        goto done;
    }
    for (int i = 0; i < sk_OPENSSL_CSTRING_num(names); i++) {
        PyObject *name = PyUnicode_FromString(sk_OPENSSL_CSTRING_value(names, i));
        if (name == NULL || PyList_Append(result, name) < 0) {
            Py_XDECREF(name);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(name);
    }
done:
    /* the strings belong to OpenSSL: free only the stack */
    sk_OPENSSL_CSTRING_free(names);
    return result;
#else
    PyErr_Format(PyExc_NotImplementedError,
                 "get_groups() requires OpenSSL 3.5 or later; tlsctx is linked with %s",
                 OpenSSL_version(OPENSSL_VERSION));
    return NULL;
#endif
}

PyObject *
tlsctx_context_set_ciphersuites(tlsctx_context *self, PyObject *arg)
{
    const char *suites = str_argument(arg, "set_ciphersuites");
    if (suites == NULL) {
        return NULL;
    }
    ERR_clear_error();
    if (SSL_CTX_set_ciphersuites(self->ctx, suites) != 1) {
        return setter_error(self->state, "No cipher suite can be selected.");
    }
    Py_RETURN_NONE;
}

static PyObject *
set_sigalgs(tlsctx_context *self, PyObject *arg, const char *funcname, int client)
{
    const char *sigalgs = str_argument(arg, funcname);
    if (sigalgs == NULL) {
        return NULL;
    }
    ERR_clear_error();
    long ok = client ? SSL_CTX_set1_client_sigalgs_list(self->ctx, sigalgs)
                     : SSL_CTX_set1_sigalgs_list(self->ctx, sigalgs);
    if (ok != 1) {
        return setter_error(self->state, "unrecognized signature algorithm");
    }
    Py_RETURN_NONE;
}

PyObject *
tlsctx_context_set_client_sigalgs(tlsctx_context *self, PyObject *arg)
{
    return set_sigalgs(self, arg, "set_client_sigalgs", 1);
}

PyObject *
tlsctx_context_set_server_sigalgs(tlsctx_context *self, PyObject *arg)
{
    return set_sigalgs(self, arg, "set_server_sigalgs", 0);
}

/* ---- module-level get_sigalgs() --------------------------------------- */

static PyObject *
module_get_sigalgs(PyObject *module, PyObject *unused)
{
#if TLSCTX_HAVE_BUILTIN_SIGALGS
    ERR_clear_error();
    char *names = SSL_get1_builtin_sigalgs(NULL);
    if (names == NULL) {
        return tlsctx_set_ssl_error(tlsctx_get_state(module), NULL);
    }
    PyObject *result = split_names(names);
    OPENSSL_free(names);
    return result;
#else
    PyErr_Format(PyExc_NotImplementedError,
                 "get_sigalgs() requires OpenSSL 3.4 or later; tlsctx is linked with %s",
                 OpenSSL_version(OPENSSL_VERSION));
    return NULL;
#endif
}

static PyMethodDef modern_functions[] = {
    {"get_sigalgs", module_get_sigalgs, METH_NOARGS,
     "Return the names of the TLS signature algorithms OpenSSL offers."},
    {NULL},
};

int
tlsctx_setup_modern(PyObject *module, tlsctx_state *state)
{
    return PyModule_AddFunctions(module, modern_functions);
}

/* ---- connections ------------------------------------------------------ */

static PyObject *
name_or_none(const char *name)
{
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(name);
}

PyObject *
tlsctx_ssl_group(SSL *ssl)
{
    /* both OpenSSL calls read the session: none before the handshake starts */
    if (ssl == NULL || SSL_get_session(ssl) == NULL) {
        Py_RETURN_NONE;
    }
#if TLSCTX_HAVE_GROUP_NAME
    return name_or_none(SSL_get0_group_name(ssl));
#else
    /* 3.0: the negotiated group's id, then its TLS name (the same name
     * SSL_get0_group_name gives from 3.2) */
    int id = (int)SSL_get_negotiated_group(ssl);
    if (id <= 0) {
        Py_RETURN_NONE;
    }
    return name_or_none(SSL_group_to_name(ssl, id));
#endif
}

#if !TLSCTX_HAVE_SIGNATURE_NAME
/* OpenSSL before 3.5 reports a signature as (key type, digest); the
 * TLS SignatureScheme name follows from them and, for RSA-PSS, from the
 * signer's key (an RSA key gives the rsae schemes, an RSA-PSS key the pss
 * ones). Names as OpenSSL 3.5's SSL_get0_signature_name spells them. */
static const char *
sigalg_name(int sig_nid, int md_nid, EVP_PKEY *signer_key)
{
    static const struct {
        int sig_nid;
        int md_nid;
        const char *name;
    } fixed[] = {
        {EVP_PKEY_ED25519, NID_undef, "ed25519"},
        {EVP_PKEY_ED448, NID_undef, "ed448"},
        {EVP_PKEY_EC, NID_sha256, "ecdsa_secp256r1_sha256"},
        {EVP_PKEY_EC, NID_sha384, "ecdsa_secp384r1_sha384"},
        {EVP_PKEY_EC, NID_sha512, "ecdsa_secp521r1_sha512"},
        {EVP_PKEY_EC, NID_sha224, "ecdsa_sha224"},
        {EVP_PKEY_EC, NID_sha1, "ecdsa_sha1"},
        {EVP_PKEY_RSA, NID_sha256, "rsa_pkcs1_sha256"},
        {EVP_PKEY_RSA, NID_sha384, "rsa_pkcs1_sha384"},
        {EVP_PKEY_RSA, NID_sha512, "rsa_pkcs1_sha512"},
        {EVP_PKEY_RSA, NID_sha224, "rsa_pkcs1_sha224"},
        {EVP_PKEY_RSA, NID_sha1, "rsa_pkcs1_sha1"},
        {EVP_PKEY_DSA, NID_sha256, "dsa_sha256"},
        {EVP_PKEY_DSA, NID_sha384, "dsa_sha384"},
        {EVP_PKEY_DSA, NID_sha512, "dsa_sha512"},
        {EVP_PKEY_DSA, NID_sha224, "dsa_sha224"},
        {EVP_PKEY_DSA, NID_sha1, "dsa_sha1"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (fixed[i].sig_nid == sig_nid && fixed[i].md_nid == md_nid) {
            return fixed[i].name;
        }
    }
    static const struct {
        int md_nid;
        const char *rsae;
        const char *pss;
    } rsa_pss[] = {
        {NID_sha256, "rsa_pss_rsae_sha256", "rsa_pss_pss_sha256"},
        {NID_sha384, "rsa_pss_rsae_sha384", "rsa_pss_pss_sha384"},
        {NID_sha512, "rsa_pss_rsae_sha512", "rsa_pss_pss_sha512"},
    };
    if (sig_nid != EVP_PKEY_RSA_PSS || signer_key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(rsa_pss) / sizeof(rsa_pss[0]); i++) {
        if (rsa_pss[i].md_nid == md_nid) {
            return EVP_PKEY_is_a(signer_key, "RSA-PSS") ? rsa_pss[i].pss : rsa_pss[i].rsae;
        }
    }
    return NULL;
}

/* The scheme this side (peer == 0) or the peer (peer == 1) signed with. */
static PyObject *
signature_from_nids(SSL *ssl, int peer)
{
    int sig_nid = NID_undef, md_nid = NID_undef;
    EVP_PKEY *key = NULL;
    X509 *cert;
    int ok;
    if (peer) {
        ok = SSL_get_peer_signature_type_nid(ssl, &sig_nid);
        cert = SSL_get0_peer_certificate(ssl);
    }
    else {
        ok = SSL_get_signature_type_nid(ssl, &sig_nid);
        cert = SSL_get_certificate(ssl);
    }
    ERR_clear_error();
    if (ok != 1 || sig_nid == NID_undef) {
        Py_RETURN_NONE;
    }
    /* Ed25519/Ed448 carry no separate digest: the call then fails */
    if ((peer ? SSL_get_peer_signature_nid(ssl, &md_nid) : SSL_get_signature_nid(ssl, &md_nid))
        != 1) {
        md_nid = NID_undef;
    }
    ERR_clear_error();
    if (cert != NULL) {
        key = X509_get0_pubkey(cert);
    }
    return name_or_none(sigalg_name(sig_nid, md_nid, key));
}
#endif

/* The signature the server (client_side == 0) or the client
 * (client_side == 1) made in this handshake, seen from either end. */
static PyObject *
signature_of(SSL *ssl, int client_side)
{
    if (ssl == NULL) {
        Py_RETURN_NONE;
    }
    /* ours if we are that side, else the peer's */
    int peer = SSL_is_server(ssl) ? client_side : !client_side;
#if TLSCTX_HAVE_SIGNATURE_NAME
    const char *name = NULL;
    long ok = peer ? SSL_get0_peer_signature_name(ssl, &name)
                   : SSL_get0_signature_name(ssl, &name);
    ERR_clear_error();
    return name_or_none(ok == 1 ? name : NULL);
#else
    return signature_from_nids(ssl, peer);
#endif
}

PyObject *
tlsctx_ssl_client_sigalg(SSL *ssl)
{
    return signature_of(ssl, 1);
}

PyObject *
tlsctx_ssl_server_sigalg(SSL *ssl)
{
    return signature_of(ssl, 0);
}
