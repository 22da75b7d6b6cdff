/* The trust cache: each trust source is parsed once per process and its
 * certificates and CRLs are shared, by reference, between contexts.
 *
 * A context's trust store is a pure function of (verify flags, recipe): the
 * recipe lists what was loaded, in order. Stores are built by replaying a
 * recipe with the same OpenSSL calls the stdlib makes, so object order,
 * counts and duplicates come out exactly as the stdlib's; the built store is
 * cached under its key and shared by every context with the same key.
 * Changing a context's trust (loading more, new verify flags) picks another
 * store and never writes to a shared one.
 *
 * Recipe items:
 *   bundle capsule  parsed certificates/CRLs of one file or cadata value
 *   bytes           a capath directory (hash-dir lookup)
 *   tuple (dir,)    set_default_verify_paths' lookups on the default directory
 *   Ellipsis        a sort of the store's object list: OpenSSL sorts it on the
 *                   first look-up, so a handshake, or a source loaded again,
 *                   reorders what get_ca_certs returns
 *
 * Order matters and OpenSSL makes it subtle: every X509_STORE_add_cert first
 * looks the certificate up, which sorts the list, then appends. So a list is
 * "sorted" right after a repeated source and "unsorted" after one that added
 * something. A repeat is skipped only when the list is sorted already (then
 * it truly changes nothing); a store is built from the previous one by
 * copying its list only when that list is unsorted (a copy pushed one by one
 * is in the same state).
 *
 * Files are keyed by (device, inode, size, mtime ns, ctime ns). Timestamps
 * that are too recent to rule out a same-tick rewrite are "racy": hits on
 * such entries re-read the file and compare SHA-256 digests.
 *
 * All cache bookkeeping happens with the GIL held; only file reading and
 * parsing run without it. */
#include "_tlsctx.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <time.h>

#define MAX_BUNDLES 64
#define MAX_STORES 32

struct tlsctx_trust_cache {
    PyObject *bundles;   /* source key -> bundle capsule, oldest first */
    PyObject *stores;    /* (flags, *recipe) -> store capsule, oldest first */
    unsigned long long hits, misses, parses;
    /* (file env var, file, dir env var, dir) as bytes, replacing OpenSSL's
     * compiled-in defaults; NULL keeps them. A bundled OpenSSL's own
     * defaults point into the build machine's layout, so tlsctx/__init__.py
     * hands it the stdlib's at import (_set_default_verify_paths). */
    PyObject *default_paths;
};

static const char BUNDLE_CAPSULE[] = "tlsctx.trust_bundle";
static const char STORE_CAPSULE[] = "tlsctx.trust_store";

/* ---- bundles: one parsed source ------------------------------------------ */

typedef struct {
    STACK_OF(X509_OBJECT) *objects;   /* in the order the stdlib adds them */
    /* Files only: the content's digest, and whether the file's timestamps
     * were too recent to tell a later rewrite apart (see file_bundle). */
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int racy;
} trust_bundle;

static void
bundle_free(trust_bundle *bundle)
{
    if (bundle != NULL) {
        sk_X509_OBJECT_pop_free(bundle->objects, X509_OBJECT_free);
        PyMem_RawFree(bundle);
    }
}

static void
bundle_capsule_destructor(PyObject *capsule)
{
    bundle_free(PyCapsule_GetPointer(capsule, BUNDLE_CAPSULE));
}

static trust_bundle *
bundle_new(void)
{
    trust_bundle *bundle = PyMem_RawCalloc(1, sizeof(*bundle));
    if (bundle == NULL) {
        return NULL;
    }
    bundle->objects = sk_X509_OBJECT_new_null();
    if (bundle->objects == NULL) {
        PyMem_RawFree(bundle);
        return NULL;
    }
    return bundle;
}

static int
bundle_push_cert(trust_bundle *bundle, X509 *cert)
{
    X509_OBJECT *obj = X509_OBJECT_new();
    if (obj == NULL || !X509_OBJECT_set1_X509(obj, cert)
        || !sk_X509_OBJECT_push(bundle->objects, obj)) {
        X509_OBJECT_free(obj);
        return 0;
    }
    return 1;
}

static int
bundle_push_crl(trust_bundle *bundle, X509_CRL *crl)
{
    X509_OBJECT *obj = X509_OBJECT_new();
    if (obj == NULL || !X509_OBJECT_set1_X509_CRL(obj, crl)
        || !sk_X509_OBJECT_push(bundle->objects, obj)) {
        X509_OBJECT_free(obj);
        return 0;
    }
    return 1;
}

/* ---- parsing, without the GIL ----------------------------------------- */

typedef struct {
    trust_bundle *bundle;       /* on success */
    int saved_errno;            /* on an OS error */
    const char *message;        /* on an error of our own wording (no library) */
    int openssl_error;          /* on an error left on the OpenSSL queue */
} parse_result;

/* The X509_INFO list of one piece of PEM text, as X509_load_cert_crl_file
 * reads it; NULL with the reason on this thread's error queue. */
static STACK_OF(X509_INFO) *
read_pem_infos(const char *data, size_t len)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        return NULL;
    }
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio_ex(bio, NULL, NULL, "", NULL, NULL);
    BIO_free(bio);
    if (infos == NULL) {
        ERR_raise(ERR_LIB_X509, ERR_R_PEM_LIB);
    }
    return infos;
}

/* Append the certificates and CRLs of `infos`, in order, to the bundle. */
static int
bundle_take_infos(trust_bundle *bundle, STACK_OF(X509_INFO) *infos)
{
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if ((info->x509 != NULL && !bundle_push_cert(bundle, info->x509))
            || (info->crl != NULL && !bundle_push_crl(bundle, info->crl))) {
            return 0;
        }
    }
    return 1;
}

/* A CA file, parsed as X509_load_cert_crl_file does. */
static void
parse_ca_file_pem(const char *data, size_t len, parse_result *out)
{
    STACK_OF(X509_INFO) *infos = NULL;
    trust_bundle *bundle = bundle_new();
    if (bundle == NULL) {
        goto openssl_error;
    }
    infos = read_pem_infos(data, len);
    if (infos == NULL || !bundle_take_infos(bundle, infos)) {
        goto openssl_error;
    }
    if (sk_X509_OBJECT_num(bundle->objects) == 0) {
        ERR_raise(ERR_LIB_X509, X509_R_NO_CERTIFICATE_OR_CRL_FOUND);
        goto openssl_error;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    ERR_clear_error();
    out->bundle = bundle;
    return;
openssl_error:
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    bundle_free(bundle);
    out->openssl_error = 1;
}

/* cadata, parsed certificate by certificate as the stdlib does. */
static void
parse_cadata(const char *data, size_t len, int pem, parse_result *out)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    trust_bundle *bundle = bundle_new();
    int at_eof = 0;
    if (bio == NULL || bundle == NULL) {
        goto openssl_error;
    }
    for (;;) {
        X509 *cert;
        if (pem) {
            cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        }
        else {
            if (BIO_eof(bio)) {
                at_eof = 1;
                break;
            }
            cert = d2i_X509_bio(bio, NULL);
        }
        if (cert == NULL) {
            break;
        }
        int ok = bundle_push_cert(bundle, cert);
        X509_free(cert);
        if (!ok) {
            goto openssl_error;
        }
    }
    unsigned long err = ERR_peek_last_error();
    if (sk_X509_OBJECT_num(bundle->objects) == 0) {
        ERR_clear_error();
        out->message = pem ? "no start line: cadata does not contain a certificate"
                           : "not enough data: cadata does not contain a certificate";
        goto fail;
    }
    /* running out of input ends the sequence; anything else is an error */
    if (!(!pem && at_eof)
        && !(pem && ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)
        && err != 0) {
        goto openssl_error;
    }
    ERR_clear_error();
    BIO_free(bio);
    out->bundle = bundle;
    return;
openssl_error:
    out->openssl_error = 1;
fail:
    BIO_free(bio);
    bundle_free(bundle);
}

static char *
read_whole_file(int fd, size_t size_hint, size_t *len_out, int *errno_out)
{
    size_t capacity = size_hint + 1, len = 0;
    char *buffer = PyMem_RawMalloc(capacity);
    if (buffer == NULL) {
        *errno_out = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (len == capacity) {
            char *bigger = PyMem_RawRealloc(buffer, capacity * 2);
            if (bigger == NULL) {
                PyMem_RawFree(buffer);
                *errno_out = ENOMEM;
                return NULL;
            }
            buffer = bigger;
            capacity *= 2;
        }
        ssize_t n = read(fd, buffer + len, capacity - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            *errno_out = errno;
            PyMem_RawFree(buffer);
            return NULL;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    *len_out = len;
    return buffer;
}

/* ---- the cache ------------------------------------------------------------ */

static tlsctx_trust_cache *
get_cache(tlsctx_state *state)
{
    return state->trust_cache;
}

/* Move a hit to the young end; evict from the old end past `limit`. */
static int
cache_touch(PyObject *dict, PyObject *key, PyObject *value, Py_ssize_t limit)
{
    Py_INCREF(value);
    if (PyDict_DelItem(dict, key) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            Py_DECREF(value);
            return -1;
        }
        PyErr_Clear();
    }
    int rc = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    if (rc < 0) {
        return -1;
    }
    while (PyDict_GET_SIZE(dict) > limit) {
        Py_ssize_t pos = 0;
        PyObject *oldest, *unused;
        if (!PyDict_Next(dict, &pos, &oldest, &unused)) {
            break;
        }
        Py_INCREF(oldest);
        rc = PyDict_DelItem(dict, oldest);
        Py_DECREF(oldest);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
cache_lookup(tlsctx_state *state, PyObject *dict, PyObject *key, Py_ssize_t limit)
{
    PyObject *hit = PyDict_GetItemWithError(dict, key);
    if (hit == NULL) {
        return NULL;
    }
    Py_INCREF(hit);
    if (cache_touch(dict, key, hit, limit) < 0) {
        Py_DECREF(hit);
        return NULL;
    }
    get_cache(state)->hits++;
    return hit;
}

/* Register a freshly parsed bundle under `key`, or use the one already there
 * when it has the same content (another thread parsed the same source while
 * we did). An entry with other content is stale and replaced. */
static PyObject *
wrap_bundle(tlsctx_state *state, PyObject *key, trust_bundle *bundle)
{
    tlsctx_trust_cache *cache = get_cache(state);
    PyObject *existing = PyDict_GetItemWithError(cache->bundles, key);
    if (existing == NULL && PyErr_Occurred()) {
        bundle_free(bundle);
        return NULL;
    }
    if (existing != NULL) {
        trust_bundle *have = PyCapsule_GetPointer(existing, BUNDLE_CAPSULE);
        if (have != NULL && memcmp(have->digest, bundle->digest, sizeof(have->digest)) == 0) {
            /* the later read knows better whether the timestamps are racy */
            have->racy = bundle->racy;
            bundle_free(bundle);
            existing = Py_NewRef(existing);
            if (cache_touch(cache->bundles, key, existing, MAX_BUNDLES) < 0) {
                Py_CLEAR(existing);
            }
            return existing;
        }
    }
    PyObject *capsule = PyCapsule_New(bundle, BUNDLE_CAPSULE, bundle_capsule_destructor);
    if (capsule == NULL) {
        bundle_free(bundle);
        return NULL;
    }
    cache->parses++;
    if (cache_touch(cache->bundles, key, capsule, MAX_BUNDLES) < 0) {
        Py_DECREF(capsule);
        return NULL;
    }
    return capsule;
}

/* `path` names the file in an OSError (the stdlib's has errno only): a
 * deliberate difference, see docs/differences.md. */
static PyObject *
raise_parse_error(tlsctx_state *state, parse_result *result, PyObject *path)
{
    if (result->saved_errno != 0) {
        ERR_clear_error();
        PyObject *filename = NULL;
        if (path != NULL) {
            filename = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path),
                                                        PyBytes_GET_SIZE(path));
            if (filename == NULL) {
                return NULL;
            }
        }
        errno = result->saved_errno;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, filename);
        Py_XDECREF(filename);
        return NULL;
    }
    if (result->message != NULL) {
        return tlsctx_set_ssl_error(state, result->message);
    }
    return tlsctx_set_ssl_error(state, NULL);
}

static long long
timespec_ns(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static PyObject *
file_key(const struct stat *st)
{
    return Py_BuildValue("(sKKLLL)", "file", (unsigned long long)st->st_dev,
                         (unsigned long long)st->st_ino, (long long)st->st_size,
                         timespec_ns(&st->st_mtim), timespec_ns(&st->st_ctim));
}

/* File timestamps come from a coarse clock (a kernel tick, or a second or
 * more on some file systems): a rewrite soon after a read can keep the same
 * (size, mtime, ctime). Until a file's newest timestamp is this far behind
 * the moment we read it, a cache hit re-reads the file and compares digests,
 * as git does for "racily clean" index entries. */
#define RACY_WINDOW_NS (5LL * 1000000000LL)

/* One read of a CA file, done without the GIL. */
typedef struct {
    const char *path;
    int have_expected;                            /* in: compare with expected */
    unsigned char expected[SHA256_DIGEST_LENGTH];
    struct stat st;                               /* out: the file read */
    int unchanged;                                /* out: content == expected, not parsed */
    int racy;                                     /* out */
    parse_result result;                          /* out: the bundle or the error */
} file_read;

static void
read_ca_file(file_read *job)
{
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        job->result.saved_errno = errno;
        return;
    }
    if (fstat(fd, &job->st) != 0) {
        job->result.saved_errno = errno;
        close(fd);
        return;
    }
    /* taken before reading: a write after this moment stamps the file later
     * than its present timestamps unless they are racy */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t len = 0;
    char *data = read_whole_file(fd, S_ISREG(job->st.st_mode) ? (size_t)job->st.st_size : 4096,
                                 &len, &job->result.saved_errno);
    close(fd);
    if (data == NULL) {
        return;
    }
    if (len > INT_MAX) {
        job->result.saved_errno = EFBIG;
        PyMem_RawFree(data);
        return;
    }
    long long newest = timespec_ns(&job->st.st_mtim);
    if (timespec_ns(&job->st.st_ctim) > newest) {
        newest = timespec_ns(&job->st.st_ctim);
    }
    job->racy = newest + RACY_WINDOW_NS >= timespec_ns(&now);
    /* the digest only serves to re-check racy entries */
    unsigned char digest[SHA256_DIGEST_LENGTH] = {0};
    if (job->racy || job->have_expected) {
        SHA256((const unsigned char *)data, len, digest);
    }
    if (job->have_expected && memcmp(digest, job->expected, sizeof(digest)) == 0) {
        job->unchanged = 1;
    }
    else {
        parse_ca_file_pem(data, len, &job->result);
        if (job->result.bundle != NULL) {
            memcpy(job->result.bundle->digest, digest, sizeof(digest));
            job->result.bundle->racy = job->racy;
        }
    }
    PyMem_RawFree(data);
}

/* The parsed bundle for a CA file, keyed by file identity and version:
 * (device, inode, size, mtime, ctime), content-checked while racy. */
static PyObject *
file_bundle(tlsctx_state *state, PyObject *path_bytes)
{
    tlsctx_trust_cache *cache = get_cache(state);
    PyObject *key = NULL, *candidate = NULL, *capsule = NULL, *new_key = NULL;
    file_read job;
    struct stat st;
    int rc;

    memset(&job, 0, sizeof(job));
    job.path = PyBytes_AS_STRING(path_bytes);
    Py_BEGIN_ALLOW_THREADS
    rc = stat(job.path, &st);
    Py_END_ALLOW_THREADS
    if (rc == 0 && S_ISREG(st.st_mode)) {
        key = file_key(&st);
        if (key == NULL) {
            return NULL;
        }
        candidate = cache_lookup(state, cache->bundles, key, MAX_BUNDLES);
        if (candidate == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (candidate != NULL) {
            trust_bundle *have = PyCapsule_GetPointer(candidate, BUNDLE_CAPSULE);
            if (have == NULL) {
                goto done;
            }
            if (!have->racy) {
                capsule = candidate;
                candidate = NULL;
                goto done;
            }
            job.have_expected = 1;
            memcpy(job.expected, have->digest, sizeof(job.expected));
        }
    }

    Py_BEGIN_ALLOW_THREADS
    read_ca_file(&job);
    Py_END_ALLOW_THREADS
    if (!job.unchanged && job.result.bundle == NULL) {
        raise_parse_error(state, &job.result, path_bytes);
        goto done;
    }
    new_key = file_key(&job.st);
    if (new_key == NULL) {
        bundle_free(job.result.bundle);
        goto done;
    }
    if (job.unchanged) {
        /* same content as the cached bundle: keep it, under the file's
         * present key */
        trust_bundle *have = PyCapsule_GetPointer(candidate, BUNDLE_CAPSULE);
        have->racy = job.racy;
        if (cache_touch(cache->bundles, new_key, candidate, MAX_BUNDLES) < 0) {
            goto done;
        }
        capsule = candidate;
        candidate = NULL;
    }
    else {
        capsule = wrap_bundle(state, new_key, job.result.bundle);
    }
done:
    Py_XDECREF(key);
    Py_XDECREF(new_key);
    Py_XDECREF(candidate);
    return capsule;
}

/* The parsed bundle for a cadata value, keyed by its digest. */
static PyObject *
data_bundle(tlsctx_state *state, const char *data, Py_ssize_t len, int pem)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (len <= 0) {
        PyErr_SetString(PyExc_ValueError, "Empty certificate data");
        return NULL;
    }
    if (len > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "Certificate data is too long.");
        return NULL;
    }
    SHA256((const unsigned char *)data, (size_t)len, digest);
    PyObject *key = Py_BuildValue("(sy#)", pem ? "pem" : "der", digest, (Py_ssize_t)sizeof(digest));
    if (key == NULL) {
        return NULL;
    }
    PyObject *capsule = cache_lookup(state, get_cache(state)->bundles, key, MAX_BUNDLES);
    if (capsule != NULL || PyErr_Occurred()) {
        Py_DECREF(key);
        return capsule;
    }
    /* parse a private copy: a bytearray may change while the GIL is released,
     * and the bundle must hold what the digest names */
    char *copy = PyMem_RawMalloc((size_t)len);
    if (copy == NULL) {
        Py_DECREF(key);
        return PyErr_NoMemory();
    }
    memcpy(copy, data, (size_t)len);
    parse_result result = {NULL, 0, NULL, 0};
    Py_BEGIN_ALLOW_THREADS
    parse_cadata(copy, (size_t)len, pem, &result);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(copy);
    if (result.bundle == NULL) {
        Py_DECREF(key);
        return raise_parse_error(state, &result, NULL);
    }
    memcpy(result.bundle->digest, digest, sizeof(digest));
    capsule = wrap_bundle(state, key, result.bundle);
    Py_DECREF(key);
    return capsule;
}

/* ---- building stores from recipes -------------------------------------- */

/* Make param's flags exactly `flags` (set_flags alone may add POLICY_CHECK). */
static int
force_flags(X509_VERIFY_PARAM *param, unsigned long flags)
{
    if (!X509_VERIFY_PARAM_set_flags(param, flags)) {
        return 0;
    }
    unsigned long extra = X509_VERIFY_PARAM_get_flags(param) & ~flags;
    return extra == 0 || X509_VERIFY_PARAM_clear_flags(param, extra);
}

static int
add_hash_dir(X509_STORE *store, const char *dir)
{
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    return lookup != NULL && X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM);
}

/* Apply one recipe item to a store, with the calls the stdlib's path makes. */
static int
replay_item(X509_STORE *store, PyObject *item)
{
    if (PyCapsule_CheckExact(item)) {
        trust_bundle *bundle = PyCapsule_GetPointer(item, BUNDLE_CAPSULE);
        if (bundle == NULL) {
            return -1;
        }
        for (int i = 0; i < sk_X509_OBJECT_num(bundle->objects); i++) {
            X509_OBJECT *obj = sk_X509_OBJECT_value(bundle->objects, i);
            int ok = X509_OBJECT_get_type(obj) == X509_LU_X509
                         ? X509_STORE_add_cert(store, X509_OBJECT_get0_X509(obj))
                         : X509_STORE_add_crl(store, X509_OBJECT_get0_X509_CRL(obj));
            if (!ok) {
                return 0;
            }
        }
        return 1;
    }
    if (PyBytes_Check(item)) {
        return add_hash_dir(store, PyBytes_AS_STRING(item));
    }
    if (item == Py_Ellipsis) {
        /* what a verification does to the store's object list first */
        sk_X509_OBJECT_sort(X509_STORE_get0_objects(store));
        return 1;
    }
    /* set_default_verify_paths: the default directory, as a hash dir and as
     * an OSSL_STORE lookup. Like X509_STORE_set_default_paths, only a lookup
     * that cannot be created fails; a directory that does not work is not an
     * error. */
    const char *dir = PyBytes_AS_STRING(PyTuple_GET_ITEM(item, 0));
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (lookup == NULL) {
        return 0;
    }
    (void)X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM);
    lookup = X509_STORE_add_lookup(store, X509_LOOKUP_store());
    if (lookup == NULL) {
        return 0;
    }
    (void)X509_LOOKUP_add_store_ex(lookup, dir, NULL, NULL);
    ERR_clear_error();
    return 1;
}

static void
store_capsule_destructor(PyObject *capsule)
{
    X509_STORE_free(PyCapsule_GetPointer(capsule, STORE_CAPSULE));
}

/* Copy the object list of `base` into the empty `store`, in order, when it is
 * unsorted: pushed one by one, the copy is unsorted too, the very state the
 * stdlib's store would be in. A sorted list is not copied (re-sorting the
 * copy could reorder equal subjects with an unstable qsort); the caller then
 * replays the recipe instead. 1 when copied, 0 when not, -1 on error. */
static int
copy_unsorted_objects(X509_STORE *base, X509_STORE *store)
{
    if (!X509_STORE_lock(base)) {
        return -1;
    }
    STACK_OF(X509_OBJECT) *from = X509_STORE_get0_objects(base);
    STACK_OF(X509_OBJECT) *to = X509_STORE_get0_objects(store);
    int rc = 0;
    if (!sk_X509_OBJECT_is_sorted(from)) {
        rc = 1;
        for (int i = 0; rc == 1 && i < sk_X509_OBJECT_num(from); i++) {
            X509_OBJECT *obj = sk_X509_OBJECT_value(from, i);
            X509_OBJECT *copy = X509_OBJECT_new();
            int ok = copy != NULL
                     && (X509_OBJECT_get_type(obj) == X509_LU_X509
                             ? X509_OBJECT_set1_X509(copy, X509_OBJECT_get0_X509(obj))
                             : X509_OBJECT_set1_X509_CRL(copy, X509_OBJECT_get0_X509_CRL(obj)))
                     && sk_X509_OBJECT_push(to, copy);
            if (!ok) {
                X509_OBJECT_free(copy);
                rc = -1;
            }
        }
    }
    X509_STORE_unlock(base);
    return rc;
}

/* Only parsed sources and sorts: a store for these holds nothing but objects. */
static int
recipe_prefix_is_plain(PyObject *recipe, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(recipe, i);
        if (!PyCapsule_CheckExact(item) && item != Py_Ellipsis) {
            return 0;
        }
    }
    return 1;
}

/* The store for (flags, recipe). When `base` is the store of the recipe's
 * first `base_len` items, its objects are copied rather than replayed, so
 * that loading one more source costs that source alone, as in the stdlib. */
static X509_STORE *
build_store(tlsctx_state *state, unsigned long flags, PyObject *recipe, X509_STORE *base,
            Py_ssize_t base_len)
{
    Py_ssize_t start = 0;
    X509_STORE *store = X509_STORE_new();
    if (store == NULL || !force_flags(X509_STORE_get0_param(store), flags)) {
        goto error;
    }
    if (base != NULL && base_len > 0 && recipe_prefix_is_plain(recipe, base_len)) {
        int copied = copy_unsorted_objects(base, store);
        if (copied < 0) {
            goto error;
        }
        if (copied) {
            start = base_len;
        }
    }
    for (Py_ssize_t i = start; i < PyList_GET_SIZE(recipe); i++) {
        int ok = replay_item(store, PyList_GET_ITEM(recipe, i));
        if (ok < 0) {
            X509_STORE_free(store);
            return NULL;
        }
        if (!ok) {
            goto error;
        }
    }
    ERR_clear_error();
    return store;
error:
    X509_STORE_free(store);
    tlsctx_set_ssl_error(state, NULL);
    return NULL;
}

static PyObject *
store_key(unsigned long flags, PyObject *recipe)
{
    Py_ssize_t n = PyList_GET_SIZE(recipe);
    PyObject *key = PyTuple_New(n + 1);
    if (key == NULL) {
        return NULL;
    }
    PyObject *flags_obj = PyLong_FromUnsignedLong(flags);
    if (flags_obj == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    PyTuple_SET_ITEM(key, 0, flags_obj);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(key, i + 1, Py_NewRef(PyList_GET_ITEM(recipe, i)));
    }
    return key;
}

/* Point the context at the shared store for (flags, recipe), building it on a
 * miss (from the context's present store when `base_len` items of the recipe
 * are what it holds, see build_store) unless `ready` is that store already;
 * the recipe becomes the context's. */
static int
use_store(tlsctx_context *self, unsigned long flags, PyObject *recipe, Py_ssize_t base_len,
          X509_STORE *ready)
{
    tlsctx_state *state = self->state;
    tlsctx_trust_cache *cache = get_cache(state);
    PyObject *key = store_key(flags, recipe);
    if (key == NULL) {
        return -1;
    }
    PyObject *capsule = cache_lookup(state, cache->stores, key, MAX_STORES);
    if (capsule == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        X509_STORE *store = ready;
        if (store != NULL) {
            if (!X509_STORE_up_ref(store)) {
                tlsctx_set_ssl_error(state, NULL);
                goto error;
            }
        }
        else {
            store = build_store(state, flags, recipe, SSL_CTX_get_cert_store(self->ctx), base_len);
            if (store == NULL) {
                goto error;
            }
        }
        capsule = PyCapsule_New(store, STORE_CAPSULE, store_capsule_destructor);
        if (capsule == NULL) {
            X509_STORE_free(store);
            goto error;
        }
        cache->misses++;
        if (cache_touch(cache->stores, key, capsule, MAX_STORES) < 0) {
            Py_DECREF(capsule);
            goto error;
        }
    }
    Py_DECREF(key);
    SSL_CTX_set1_cert_store(self->ctx, PyCapsule_GetPointer(capsule, STORE_CAPSULE));
    Py_DECREF(capsule);
    Py_INCREF(recipe);
    Py_SETREF(self->trust_recipe, recipe);
    return 0;
error:
    Py_DECREF(key);
    return -1;
}

static unsigned long
current_flags(tlsctx_context *self)
{
    return X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(SSL_CTX_get_cert_store(self->ctx)));
}

/* Is a lookup item (capath, default paths) already in the recipe? */
static int
recipe_has_lookup(PyObject *recipe, PyObject *item)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(recipe); i++) {
        PyObject *have = PyList_GET_ITEM(recipe, i);
        if (Py_TYPE(have) == Py_TYPE(item)) {
            int eq = PyObject_RichCompareBool(have, item, Py_EQ);
            if (eq != 0) {
                return eq;
            }
        }
    }
    return 0;
}

static int
recipe_has_bundle(PyObject *recipe, PyObject *bundle)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(recipe); i++) {
        if (PyList_GET_ITEM(recipe, i) == bundle) {
            return 1;
        }
    }
    return 0;
}

static int
store_is_sorted(X509_STORE *store)
{
    /* a handshake on another thread may be sorting a shared store */
    if (!X509_STORE_lock(store)) {
        return 0;
    }
    int sorted = sk_X509_OBJECT_is_sorted(X509_STORE_get0_objects(store));
    X509_STORE_unlock(store);
    return sorted;
}

/* Add sources (and lookups) to the context's trust. Steals nothing. */
static int
add_items(tlsctx_context *self, PyObject *items)
{
    if (self->trust_recipe == NULL) {
        /* a private store, changed in place */
        X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            int ok = replay_item(store, PyList_GET_ITEM(items, i));
            if (ok < 0) {
                return -1;
            }
            if (!ok) {
                tlsctx_set_ssl_error(self->state, NULL);
                return -1;
            }
        }
        ERR_clear_error();
        return 0;
    }
    PyObject *recipe = PyList_GetSlice(self->trust_recipe, 0, PY_SSIZE_T_MAX);
    if (recipe == NULL) {
        return -1;
    }
    /* Loading a source again adds nothing, but its first look-up sorts the
     * store: a repeat is a no-op exactly when the store is sorted already. */
    int sorted = store_is_sorted(SSL_CTX_get_cert_store(self->ctx));
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (PyCapsule_CheckExact(item)) {
            int repeat = recipe_has_bundle(recipe, item);
            if (repeat && sorted) {
                continue;
            }
            sorted = repeat;
        }
        else {
            /* lookups are added once */
            int present = recipe_has_lookup(recipe, item);
            if (present < 0) {
                goto error;
            }
            if (present) {
                continue;
            }
        }
        if (PyList_Append(recipe, item) < 0) {
            goto error;
        }
    }
    int rc = 0;
    if (PyList_GET_SIZE(recipe) != PyList_GET_SIZE(self->trust_recipe)) {
        rc = use_store(self, current_flags(self), recipe, PyList_GET_SIZE(self->trust_recipe),
                       NULL);
    }
    Py_DECREF(recipe);
    return rc;
error:
    Py_DECREF(recipe);
    return -1;
}

/* ---- the context-facing API --------------------------------------------- */

int
tlsctx_trust_load(tlsctx_context *self, PyObject *cafile, PyObject *capath,
                  const char *cadata, Py_ssize_t cadata_len, int cadata_pem)
{
    tlsctx_state *state = self->state;
    PyObject *items = PyList_New(0);
    PyObject *bundle = NULL;
    int rc = -1;
    if (items == NULL) {
        return -1;
    }
    /* the stdlib's order: cadata, then cafile, then capath */
    if (cadata != NULL) {
        bundle = data_bundle(state, cadata, cadata_len, cadata_pem);
        if (bundle == NULL || PyList_Append(items, bundle) < 0) {
            goto done;
        }
        Py_CLEAR(bundle);
    }
    if (cafile != NULL) {
        bundle = file_bundle(state, cafile);
        if (bundle == NULL || PyList_Append(items, bundle) < 0) {
            goto done;
        }
        Py_CLEAR(bundle);
    }
    if (capath != NULL && PyList_Append(items, capath) < 0) {
        goto done;
    }
    rc = add_items(self, items);
done:
    Py_XDECREF(bundle);
    Py_DECREF(items);
    return rc;
}

static const char *
env_or_default(const char *env_name, const char *fallback)
{
    /* as OpenSSL reads them: ignored in set-user-ID programs */
#ifdef __GLIBC__
    const char *value = secure_getenv(env_name);
#else
    const char *value = getenv(env_name);
#endif
    return value != NULL ? value : fallback;
}

/* The default CA file and directory with their environment variables, in
 * get_default_verify_paths() order: the replacements when set, else OpenSSL's. */
static void
default_path_names(tlsctx_trust_cache *cache, const char *names[4])
{
    if (cache->default_paths != NULL) {
        for (int i = 0; i < 4; i++) {
            names[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(cache->default_paths, i));
        }
        return;
    }
    names[0] = X509_get_default_cert_file_env();
    names[1] = X509_get_default_cert_file();
    names[2] = X509_get_default_cert_dir_env();
    names[3] = X509_get_default_cert_dir();
}

int
tlsctx_trust_set_default_paths(tlsctx_context *self)
{
    tlsctx_state *state = self->state;
    const char *names[4];
    default_path_names(get_cache(state), names);
    const char *file = env_or_default(names[0], names[1]);
    const char *dir = env_or_default(names[2], names[3]);
    PyObject *items = PyList_New(0);
    PyObject *path = PyBytes_FromString(file);
    PyObject *lookups = Py_BuildValue("(y)", dir);
    int rc = -1;
    if (items == NULL || path == NULL || lookups == NULL) {
        goto done;
    }
    /* like OpenSSL, a missing or unreadable default file is no error */
    PyObject *bundle = file_bundle(state, path);
    if (bundle == NULL) {
        PyErr_Clear();
        ERR_clear_error();
    }
    else {
        int appended = PyList_Append(items, bundle);
        Py_DECREF(bundle);
        if (appended < 0) {
            goto done;
        }
    }
    if (PyList_Append(items, lookups) < 0) {
        goto done;
    }
    rc = add_items(self, items);
done:
    Py_XDECREF(items);
    Py_XDECREF(path);
    Py_XDECREF(lookups);
    return rc;
}

int
tlsctx_trust_set_verify_flags(tlsctx_context *self, unsigned long wanted)
{
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    X509_VERIFY_PARAM *param = X509_STORE_get0_param(store);
    unsigned long current = X509_VERIFY_PARAM_get_flags(param);
    unsigned long clear = current & ~wanted;
    unsigned long set = ~current & wanted;
    if (clear == 0 && set == 0) {
        return 0;
    }
    if (self->trust_recipe == NULL) {
        if ((clear && !X509_VERIFY_PARAM_clear_flags(param, clear))
            || (set && !X509_VERIFY_PARAM_set_flags(param, set))) {
            tlsctx_set_ssl_error(self->state, NULL);
            return -1;
        }
        return 0;
    }
    /* work the result out on a scratch copy, then pick the store that has it */
    X509_VERIFY_PARAM *scratch = X509_VERIFY_PARAM_new();
    if (scratch == NULL || !force_flags(scratch, current)
        || (clear && !X509_VERIFY_PARAM_clear_flags(scratch, clear))
        || (set && !X509_VERIFY_PARAM_set_flags(scratch, set))) {
        X509_VERIFY_PARAM_free(scratch);
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    unsigned long result = X509_VERIFY_PARAM_get_flags(scratch);
    X509_VERIFY_PARAM_free(scratch);
    return use_store(self, result, self->trust_recipe, PyList_GET_SIZE(self->trust_recipe),
                     NULL);
}

int
tlsctx_trust_prepare_for_handshake(tlsctx_context *self)
{
    PyObject *recipe = self->trust_recipe;
    if (recipe == NULL) {
        return 0;  /* private already */
    }
    /* Look-ups in a capath add certificates to the store during
     * verification: a context whose store has them gets a private copy first,
     * so that no other context sees the additions. */
    int has_lookups = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(recipe); i++) {
        PyObject *item = PyList_GET_ITEM(recipe, i);
        if (PyBytes_Check(item) || PyTuple_Check(item)) {
            has_lookups = 1;
            break;
        }
    }
    if (!has_lookups) {
        return 0;  /* but see tlsctx_trust_new_probe */
    }
    X509_STORE *store = build_store(self->state, current_flags(self), recipe, NULL, 0);
    if (store == NULL) {
        return -1;
    }
    SSL_CTX_set_cert_store(self->ctx, store);  /* takes ownership */
    Py_CLEAR(self->trust_recipe);
    return 0;
}

/* The first look-up of a verification sorts the store's object list: the
 * stdlib's store is sorted by the first handshake that consults it (one that
 * verifies a peer or completes the chain it sends), and not by others. A
 * shared store must stay as it is for the other contexts, so while the
 * context's store is shared and unsorted, a connection verifies with a
 * "probe": a store of its own holding the same objects, in the same order,
 * with the same flags. A new probe, or NULL (no exception) when the context's
 * store will do, or NULL with an exception. */
X509_STORE *
tlsctx_trust_new_probe(tlsctx_context *self)
{
    if (self->trust_recipe == NULL) {
        return NULL;  /* private: sorted in place, as the stdlib's */
    }
    X509_STORE *base = SSL_CTX_get_cert_store(self->ctx);
    if (!X509_STORE_lock(base)) {
        tlsctx_set_ssl_error(self->state, NULL);
        return NULL;
    }
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(base);
    int needed = sk_X509_OBJECT_num(objects) > 1 && !sk_X509_OBJECT_is_sorted(objects);
    X509_STORE_unlock(base);
    if (!needed) {
        return NULL;
    }
    X509_STORE *probe = X509_STORE_new();
    int copied = -1;
    if (probe != NULL && force_flags(X509_STORE_get0_param(probe), current_flags(self))) {
        copied = copy_unsorted_objects(base, probe);
    }
    if (copied != 1) {
        X509_STORE_free(probe);
        if (copied < 0) {
            tlsctx_set_ssl_error(self->state, NULL);
        }
        return NULL;
    }
    return probe;
}

/* A look-up sorted `probe`, made from `source`: the stdlib's store would be
 * sorted now, so the context moves to the sorted variant of its trust
 * (shared as well), unless its trust changed since. The probe is that
 * variant (same objects, sorted the same way, same flags): on a cache miss
 * it becomes the shared store, and the OpenSSL error queue, which holds the
 * outcome of the call just made, is left alone. */
int
tlsctx_trust_probe_sorted(tlsctx_context *self, X509_STORE *source, X509_STORE *probe)
{
    PyObject *recipe = self->trust_recipe;
    if (recipe == NULL || SSL_CTX_get_cert_store(self->ctx) != source) {
        return 0;
    }
    PyObject *sorted = PyList_GetSlice(recipe, 0, PY_SSIZE_T_MAX);
    if (sorted == NULL) {
        return -1;
    }
    int rc = PyList_Append(sorted, Py_Ellipsis);
    if (rc == 0) {
        rc = use_store(self, current_flags(self), sorted, PyList_GET_SIZE(recipe), probe);
    }
    Py_DECREF(sorted);
    return rc;
}

/* ---- module functions ----------------------------------------------------- */

static PyObject *
trust_cache_clear(PyObject *module, PyObject *unused)
{
    tlsctx_trust_cache *cache = get_cache(tlsctx_get_state(module));
    PyDict_Clear(cache->bundles);
    PyDict_Clear(cache->stores);
    Py_RETURN_NONE;
}

static PyObject *
trust_cache_info(PyObject *module, PyObject *unused)
{
    tlsctx_trust_cache *cache = get_cache(tlsctx_get_state(module));
    return Py_BuildValue("{snsnsnsnsKsKsK}", "sources", PyDict_GET_SIZE(cache->bundles),
                         "max_sources", (Py_ssize_t)MAX_BUNDLES,
                         "stores", PyDict_GET_SIZE(cache->stores),
                         "max_stores", (Py_ssize_t)MAX_STORES,
                         "hits", cache->hits, "store_builds", cache->misses,
                         "parses", cache->parses);
}

static PyObject *
get_default_verify_paths(PyObject *module, PyObject *unused)
{
    const char *names[4];
    default_path_names(get_cache(tlsctx_get_state(module)), names);
    PyObject *result = PyTuple_New(4);
    for (int i = 0; result != NULL && i < 4; i++) {
        PyObject *name = PyUnicode_DecodeFSDefault(names[i]);
        if (name == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, i, name);
    }
    return result;
}

static PyObject *
set_default_verify_paths(PyObject *module, PyObject *args)
{
    PyObject *names[4] = {NULL, NULL, NULL, NULL};
    PyObject *paths = NULL;
    if (!PyArg_ParseTuple(args, "O&O&O&O&:_set_default_verify_paths", PyUnicode_FSConverter,
                          &names[0], PyUnicode_FSConverter, &names[1], PyUnicode_FSConverter,
                          &names[2], PyUnicode_FSConverter, &names[3])) {
        goto done;
    }
    paths = PyTuple_Pack(4, names[0], names[1], names[2], names[3]);
    if (paths == NULL) {
        goto done;
    }
    tlsctx_trust_cache *cache = get_cache(tlsctx_get_state(module));
    Py_XSETREF(cache->default_paths, paths);
done:
    for (int i = 0; i < 4; i++) {
        Py_XDECREF(names[i]);
    }
    if (paths == NULL) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
clear_default_verify_paths(PyObject *module, PyObject *unused)
{
    Py_CLEAR(get_cache(tlsctx_get_state(module))->default_paths);
    Py_RETURN_NONE;
}

static PyMethodDef trust_functions[] = {
    {"_trust_cache_clear", trust_cache_clear, METH_NOARGS,
     "Forget every parsed trust source and shared store."},
    {"_trust_cache_info", trust_cache_info, METH_NOARGS,
     "Sizes, bounds and counters of the trust cache."},
    {"get_default_verify_paths", get_default_verify_paths, METH_NOARGS,
     "Return the OpenSSL default CA file and directory and their environment variables."},
    {"_set_default_verify_paths", set_default_verify_paths, METH_VARARGS,
     "Use these (file env var, file, dir env var, dir) instead of OpenSSL's defaults."},
    {"_clear_default_verify_paths", clear_default_verify_paths, METH_NOARGS,
     "Go back to the default paths compiled into OpenSSL."},
    {NULL},
};

void
tlsctx_trust_cache_free(tlsctx_trust_cache *cache)
{
    Py_CLEAR(cache->bundles);
    Py_CLEAR(cache->stores);
    Py_CLEAR(cache->default_paths);
    PyMem_Free(cache);
}

int
tlsctx_setup_trust_cache(PyObject *module, tlsctx_state *state)
{
    tlsctx_trust_cache *cache = PyMem_Calloc(1, sizeof(*cache));
    if (cache == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    state->trust_cache = cache;
    cache->bundles = PyDict_New();
    cache->stores = PyDict_New();
    if (cache->bundles == NULL || cache->stores == NULL) {
        return -1;
    }
#ifdef TLSCTX_OPENSSL_BUNDLED
    PyObject *bundled = Py_True;
#else
    PyObject *bundled = Py_False;
#endif
    /* whether OpenSSL is linked into the extension (a binary wheel) */
    if (PyModule_AddObjectRef(module, "_OPENSSL_BUNDLED", bundled) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, trust_functions);
}
