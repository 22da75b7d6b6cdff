/* The trust cache: each trust source is parsed once per process and its
 * certificates and CRLs are shared, by reference, between contexts.
 *
 * A context's trust is the list of sources and lookups it loaded (its
 * steps, a small C array) under the store's verify flags. Contexts with the
 * same (flags, steps) share one X509_STORE from the cache. A shared store is
 * sorted before it is published and nothing changes it afterwards: OpenSSL
 * only sorts a store's object list when it is unsorted, so look-ups read it
 * as it is. Loading more, or new verify flags, moves the context to another
 * store; connections pin the store they were made with (tlsctx_trust_pin),
 * so a store is never freed or changed under a handshake.
 *
 * get_ca_certs() must still list the objects in the stdlib's order, which
 * is OpenSSL's: a look-up during a verification sorts the store's object
 * list; X509_STORE_add_cert looks the object up first (which, on OpenSSL
 * 3.0-3.1 only, also sorts the list) and appends it unless it is a
 * duplicate, which on 3.2+ it can miss on an unsorted list (see
 * simulate_source): what each load appends is worked out on a copy of the
 * stdlib's list, and a shared store is keyed by it. With a stable sort
 * (glibc's qsort is a merge sort), the stdlib's list is therefore always
 * the sorted list with the objects appended since the last sort moved to
 * the end, in order. A context keeps
 * those objects (its "suffix") and one bit telling whether a verification
 * has sorted the list since, which a look-up sets without the GIL
 * (note_lookup).
 *
 * A store with lookups (capath, set_default_verify_paths) grows during
 * verifications: its context gets a private copy of it when a connection is
 * first made, which its own connections change as the stdlib's would; the
 * context changes a copy of it, never it.
 *
 * Files are keyed by (device, inode, size, mtime ns, ctime ns). Timestamps
 * that are too recent to rule out a same-tick rewrite are "racy": hits on
 * such entries re-read the file and compare SHA-256 digests.
 *
 * The cache's dictionaries are touched with its lock held (and the GIL, for
 * now); file reading and parsing run without either. */
#include "_tlsctx.h"
#include "lazyindex.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <time.h>

#define MAX_BUNDLES 64
#define MAX_STORES 32

/* The cache is shared by every context of the module (and every thread):
 * its dictionaries and counters are only touched with `lock` held, never
 * across a call that could run Python code or release the lock's holder. */
struct tlsctx_trust_cache {
#if PY_VERSION_HEX >= 0x030D0000
    PyMutex lock;
#else
    PyThread_type_lock lock;
#endif
    PyObject *bundles;   /* source key -> bundle capsule, oldest first */
    PyObject *stores;    /* (flags, *steps) -> shared store capsule, oldest first */
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
    /* in the order the stdlib adds them; for a lazy bundle, NULL until a
     * caller needs them all (bundle_objects) */
    STACK_OF(X509_OBJECT) *objects;
    tlsctx_lazy_index *lazy;          /* the source indexed by subject, or NULL */
    /* Files only: the content's digest, and whether the file's timestamps
     * were too recent to tell a later rewrite apart (see file_bundle). */
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int racy;
    /* One byte per object: whether loading the bundle into an empty list
     * appends it (see bundle_alone); NULL until a load needs it. */
    unsigned char *alone;
} trust_bundle;

static void
bundle_free(trust_bundle *bundle)
{
    if (bundle != NULL) {
        sk_X509_OBJECT_pop_free(bundle->objects, X509_OBJECT_free);
        tlsctx_lazy_index_unref(bundle->lazy);
        PyMem_RawFree(bundle->alone);
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

/* Lazy trust (issue 16): sources indexed by subject and decoded when a
 * verification asks for a name. On unless TLSCTX_LAZY_TRUST=0 is in the
 * environment at import; _set_lazy_trust() switches it for new loads. */
static int lazy_enabled = 1;

/* A bundle of a source that could be indexed: nothing decoded yet. */
static trust_bundle *
lazy_bundle_new(tlsctx_lazy_index *index)
{
    trust_bundle *bundle = PyMem_RawCalloc(1, sizeof(*bundle));
    if (bundle == NULL) {
        tlsctx_lazy_index_unref(index);
        return NULL;
    }
    bundle->lazy = index;
    return bundle;
}

/* Every object of the bundle in source order (a lazy bundle decodes them all
 * once, and keeps them); NULL with the reason on the error queue. */
static STACK_OF(X509_OBJECT) *
bundle_objects(trust_bundle *bundle)
{
    return bundle->objects != NULL ? bundle->objects : tlsctx_lazy_index_objects(bundle->lazy);
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
    tlsctx_lazy_index *index = NULL;
    if (__atomic_load_n(&lazy_enabled, __ATOMIC_RELAXED)
        && (index = tlsctx_lazy_index_scan(data, len, TLSCTX_LAZY_CA_FILE)) != NULL) {
        out->bundle = lazy_bundle_new(index);
        out->openssl_error = out->bundle == NULL;
        return;
    }
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
    tlsctx_lazy_index *index = NULL;
    if (pem && __atomic_load_n(&lazy_enabled, __ATOMIC_RELAXED)
        && (index = tlsctx_lazy_index_scan(data, len, TLSCTX_LAZY_CADATA_PEM)) != NULL) {
        out->bundle = lazy_bundle_new(index);
        out->openssl_error = out->bundle == NULL;
        return;
    }
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

static void
cache_lock(tlsctx_trust_cache *cache)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyMutex_Lock(&cache->lock);   /* detaches the thread state while it waits */
#else
    if (!PyThread_acquire_lock(cache->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(cache->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
#endif
}

static void
cache_unlock(tlsctx_trust_cache *cache)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyMutex_Unlock(&cache->lock);
#else
    PyThread_release_lock(cache->lock);
#endif
}

/* Move a hit to the young end; evict from the old end past `limit`.
 * The cache's lock is held. */
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

/* A new reference to the entry under `key`, or NULL (with an exception on
 * errors only). */
static PyObject *
cache_lookup(tlsctx_state *state, PyObject *dict, PyObject *key, Py_ssize_t limit)
{
    tlsctx_trust_cache *cache = get_cache(state);
    cache_lock(cache);
    PyObject *hit = PyDict_GetItemWithError(dict, key);
    if (hit != NULL) {
        Py_INCREF(hit);
        if (cache_touch(dict, key, hit, limit) < 0) {
            Py_CLEAR(hit);
        }
        else {
            cache->hits++;
        }
    }
    cache_unlock(cache);
    return hit;
}

/* Put `value` under `key` (the young end). */
static int
cache_put(tlsctx_state *state, PyObject *dict, PyObject *key, PyObject *value, Py_ssize_t limit)
{
    tlsctx_trust_cache *cache = get_cache(state);
    cache_lock(cache);
    int rc = cache_touch(dict, key, value, limit);
    cache_unlock(cache);
    return rc;
}

/* Register a freshly parsed bundle under `key`, or use the one already there
 * when it has the same content (another thread parsed the same source while
 * we did). An entry with other content is stale and replaced. */
static PyObject *
wrap_bundle(tlsctx_state *state, PyObject *key, trust_bundle *bundle)
{
    tlsctx_trust_cache *cache = get_cache(state);
    PyObject *capsule = PyCapsule_New(bundle, BUNDLE_CAPSULE, bundle_capsule_destructor);
    if (capsule == NULL) {
        bundle_free(bundle);
        return NULL;
    }
    cache_lock(cache);
    PyObject *existing = PyDict_GetItemWithError(cache->bundles, key);
    if (existing != NULL) {
        trust_bundle *have = PyCapsule_GetPointer(existing, BUNDLE_CAPSULE);
        if (have != NULL && memcmp(have->digest, bundle->digest, sizeof(have->digest)) == 0) {
            /* the later read knows better whether the timestamps are racy */
            have->racy = bundle->racy;
            Py_SETREF(capsule, Py_NewRef(existing));   /* frees ours */
        }
        else {
            cache->parses++;
        }
    }
    else if (!PyErr_Occurred()) {
        cache->parses++;
    }
    if (PyErr_Occurred() || cache_touch(cache->bundles, key, capsule, MAX_BUNDLES) < 0) {
        Py_CLEAR(capsule);
    }
    cache_unlock(cache);
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
        cache_lock(cache);
        have->racy = job.racy;
        rc = cache_touch(cache->bundles, new_key, candidate, MAX_BUNDLES);
        cache_unlock(cache);
        if (rc < 0) {
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

/* ---- what a context trusts ------------------------------------------------ */

/* One load, as the stdlib makes it: a parsed source, or a directory lookup. */
enum trust_step_kind { STEP_SOURCE, STEP_CAPATH, STEP_DEFAULT_PATHS };

typedef struct {
    enum trust_step_kind kind;
    PyObject *ref;   /* SOURCE: the bundle capsule; the others: the directory (bytes) */
    /* A context's SOURCE steps only: NULL when the load appended every
     * object of the source, else bytes, one per object, 1 for those it
     * appended (see simulate_source). Loads pass kind and ref only. */
    PyObject *taken;
} trust_step;

/* A context's trust. The store is either shared (from the cache, or the
 * context's empty first store): physically sorted and never changed again,
 * or private (a store with lookups, once a connection used it): changed by
 * its own connections' look-ups as the stdlib's is, and copied before the
 * context changes it. Connections pin the store they were made with. */
struct tlsctx_trust {
    trust_step *steps;       /* each source and lookup once, in load order */
    Py_ssize_t n, allocated;
    int shared;
    /* Shared stores only: the objects (X509 or X509_CRL pointers) appended
     * to the stdlib's list since OpenSSL last sorted it, in order; they come
     * after the others (see the top of the file). */
    const void **suffix;
    Py_ssize_t suffix_n;
    /* (uintptr_t)store | 1 once a look-up has sorted the stdlib's list (the
     * suffix no longer counts): set without the GIL by verifications
     * (note_lookup), so read atomically. */
    uintptr_t phase;
    /* Lazy (see use_lazy_store): the store is the context's own, and its
     * lookup decodes the sources' certificates by name on demand. What the
     * stdlib's list would be is worked out when asked (lazy_materialize). */
    int lazy;
    int lazy_private;                 /* the lazy store is the context's own */
    int lazy_pinned;                  /* a connection uses the lazy store */
    struct lazy_load *loads;          /* the loads since the first, to replay */
    Py_ssize_t loads_n, loads_allocated;
};

/* One load made while lazy, as it was asked for, and whether a verification
 * had looked something up (sorted the stdlib's list) since the load before. */
struct lazy_load {
    trust_step steps[3];
    Py_ssize_t n;
    int sorted_before;
    /* what the directories' lookups added since the load before, or NULL */
    STACK_OF(X509_OBJECT) *extras_before;
};

/* Does looking an object up in an unsorted OpenSSL stack sort it? OpenSSL
 * 3.0 and 3.1 do (so every X509_STORE_add_cert sorts the list first); later
 * versions search unsorted stacks linearly. Found out once, at import. */
static int find_sorts;

static int
compare_ints(const void *a, const void *b)
{
    return **(const int *const *)a - **(const int *const *)b;
}

int
tlsctx_trust_probe_openssl(void)
{
    static const int one = 1, two = 2;
    OPENSSL_STACK *stack = OPENSSL_sk_new(compare_ints);
    if (stack == NULL || !OPENSSL_sk_push(stack, &two) || !OPENSSL_sk_push(stack, &one)) {
        OPENSSL_sk_free(stack);
        return -1;
    }
    (void)OPENSSL_sk_find(stack, &one);
    find_sorts = OPENSSL_sk_is_sorted(stack);
    OPENSSL_sk_free(stack);
    return 0;
}

static int
suffix_has(const void *const *suffix, Py_ssize_t n, const void *object)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (suffix[i] == object) {
            return 1;
        }
    }
    return 0;
}

static int
steps_has_lookups(const struct tlsctx_trust *trust)
{
    for (Py_ssize_t i = 0; i < trust->n; i++) {
        if (trust->steps[i].kind != STEP_SOURCE) {
            return 1;
        }
    }
    return 0;
}

static const trust_step *
steps_find(const struct tlsctx_trust *trust, const trust_step *step)
{
    for (Py_ssize_t i = 0; i < trust->n; i++) {
        const trust_step *have = &trust->steps[i];
        if (have->kind == step->kind
            && (have->ref == step->ref
                || (step->kind != STEP_SOURCE
                    && strcmp(PyBytes_AS_STRING(have->ref), PyBytes_AS_STRING(step->ref)) == 0))) {
            return have;
        }
    }
    return NULL;
}

static int
steps_append(struct tlsctx_trust *trust, const trust_step *step)
{
    if (trust->n == trust->allocated) {
        Py_ssize_t size = trust->allocated ? trust->allocated * 2 : 4;
        trust_step *bigger = PyMem_Realloc(trust->steps, (size_t)size * sizeof(*bigger));
        if (bigger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        trust->steps = bigger;
        trust->allocated = size;
    }
    trust->steps[trust->n].kind = step->kind;
    trust->steps[trust->n].ref = Py_NewRef(step->ref);
    trust->steps[trust->n].taken = NULL;
    trust->n++;
    return 0;
}

static void
steps_truncate(struct tlsctx_trust *trust, Py_ssize_t n)
{
    while (trust->n > n) {
        trust->n--;
        Py_DECREF(trust->steps[trust->n].ref);
        Py_CLEAR(trust->steps[trust->n].taken);
    }
}

/* ---- building stores ------------------------------------------------------ */

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

static unsigned long
store_flags(X509_STORE *store)
{
    return X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(store));
}

/* A lookup, with the calls the stdlib's path makes. For the default paths,
 * like X509_STORE_set_default_paths, only a lookup that cannot be created
 * fails; a directory that does not work is not an error. */
static int
add_lookup(X509_STORE *store, const trust_step *step)
{
    const char *dir = PyBytes_AS_STRING(step->ref);
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (lookup == NULL) {
        return 0;
    }
    if (step->kind == STEP_CAPATH) {
        return X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM);
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

static const void *
object_identity(X509_OBJECT *obj)
{
    X509 *cert = X509_OBJECT_get0_X509(obj);
    return cert != NULL ? (const void *)cert : (const void *)X509_OBJECT_get0_X509_CRL(obj);
}

/* Add a parsed source as the stdlib does, object by object (each add skips
 * a duplicate, else appends). */
static int
add_source(X509_STORE *store, const trust_step *step)
{
    trust_bundle *bundle = PyCapsule_GetPointer(step->ref, BUNDLE_CAPSULE);
    STACK_OF(X509_OBJECT) *objects = bundle_objects(bundle);
    if (objects == NULL) {
        return 0;
    }
    for (int i = 0; i < sk_X509_OBJECT_num(objects); i++) {
        X509_OBJECT *obj = sk_X509_OBJECT_value(objects, i);
        int ok = X509_OBJECT_get_type(obj) == X509_LU_X509
                     ? X509_STORE_add_cert(store, X509_OBJECT_get0_X509(obj))
                     : X509_STORE_add_crl(store, X509_OBJECT_get0_X509_CRL(obj));
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static X509_OBJECT *
find_identity(STACK_OF(X509_OBJECT) *objects, const void *object)
{
    for (int i = 0; i < sk_X509_OBJECT_num(objects); i++) {
        if (object_identity(sk_X509_OBJECT_value(objects, i)) == object) {
            return sk_X509_OBJECT_value(objects, i);
        }
    }
    return NULL;
}

/* The stdlib's list for a store: a shallow stack of the store's objects in
 * `store`'s order with the `suffix` objects moved last, in suffix order,
 * with the store's comparator and, when there is no suffix, its sorted
 * state. The caller holds the store's lock. */
static STACK_OF(X509_OBJECT) *
stdlib_list(X509_STORE *store, const void *const *suffix, Py_ssize_t suffix_n)
{
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
    STACK_OF(X509_OBJECT) *list = sk_X509_OBJECT_dup(objects);
    if (list == NULL || suffix_n == 0) {
        return list;
    }
    sk_X509_OBJECT_zero(list);
    int n = sk_X509_OBJECT_num(objects);
    for (Py_ssize_t i = 0; i < n + suffix_n; i++) {
        X509_OBJECT *obj;
        if (i < n) {
            obj = sk_X509_OBJECT_value(objects, (int)i);
            if (suffix_has(suffix, suffix_n, object_identity(obj))) {
                continue;
            }
        }
        else if ((obj = find_identity(objects, suffix[i - n])) == NULL) {
            continue;
        }
        if (!sk_X509_OBJECT_push(list, obj)) {
            sk_X509_OBJECT_free(list);
            return NULL;
        }
    }
    return list;
}

/* Copy the objects of `from` into the empty `to` in the order the stdlib's
 * list has them (stdlib_list). A copy of a sorted list is marked sorted
 * (sorting it again keeps the order: qsort is a stable merge sort in the C
 * libraries tlsctx runs on). */
static int
copy_objects(X509_STORE *from, X509_STORE *to, const void *const *suffix, Py_ssize_t suffix_n)
{
    if (!X509_STORE_lock(from)) {   /* a private store may be in use */
        return 0;
    }
    STACK_OF(X509_OBJECT) *src = stdlib_list(from, suffix, suffix_n);
    STACK_OF(X509_OBJECT) *dst = X509_STORE_get0_objects(to);
    int ok = src != NULL && sk_X509_OBJECT_reserve(dst, sk_X509_OBJECT_num(src));
    for (int i = 0; ok && i < sk_X509_OBJECT_num(src); i++) {
        X509_OBJECT *obj = sk_X509_OBJECT_value(src, i);
        X509_OBJECT *copy = X509_OBJECT_new();
        ok = copy != NULL
             && (X509_OBJECT_get_type(obj) == X509_LU_X509
                     ? X509_OBJECT_set1_X509(copy, X509_OBJECT_get0_X509(obj))
                     : X509_OBJECT_set1_X509_CRL(copy, X509_OBJECT_get0_X509_CRL(obj)))
             && sk_X509_OBJECT_push(dst, copy);
        if (!ok) {
            X509_OBJECT_free(copy);
        }
    }
    int sorted = ok && suffix_n == 0 && sk_X509_OBJECT_is_sorted(src);
    sk_X509_OBJECT_free(src);
    X509_STORE_unlock(from);
    if (ok && sorted) {
        sk_X509_OBJECT_sort(dst);
    }
    return ok;
}

/* ---- what a load appends --------------------------------------------------- */

/* X509_STORE_add_cert and _add_crl skip an object when
 * X509_OBJECT_retrieve_match finds a duplicate: it finds the first object
 * with the same subject (a binary search on a sorted list; on an unsorted
 * one, OpenSSL 3.0-3.1 sort the list first while 3.2+ search it in order)
 * and compares the objects from there while their subjects are equal. So on
 * 3.2+ a duplicate outside the run that begins at the first object of its
 * subject is not seen and is appended again: loading the same bundle twice
 * can append some of its certificates twice, depending on the order of the
 * list. What each load appends is therefore worked out with OpenSSL's own
 * search on a scratch copy of the stdlib's list (stdlib_list), and a shared
 * store is keyed by it (the steps' `taken`). */

/* The objects of a SOURCE step, in the order the stdlib adds them (a lazy
 * bundle decodes them all, once); NULL with the reason on the error queue. */
static STACK_OF(X509_OBJECT) *
source_objects(const trust_step *step)
{
    trust_bundle *bundle = PyCapsule_GetPointer(step->ref, BUNDLE_CAPSULE);
    return bundle_objects(bundle);
}

/* Add `objects` to the scratch `list` as X509_STORE_add_cert/_add_crl would
 * (the list holds its objects without references); taken[i]: whether the
 * i-th object was appended. */
static int
simulate_source(STACK_OF(X509_OBJECT) *list, STACK_OF(X509_OBJECT) *objects, unsigned char *taken)
{
    for (int i = 0; i < sk_X509_OBJECT_num(objects); i++) {
        X509_OBJECT *obj = sk_X509_OBJECT_value(objects, i);
        taken[i] = X509_OBJECT_retrieve_match(list, obj) == NULL;
        if (taken[i] && !sk_X509_OBJECT_push(list, obj)) {
            return 0;
        }
    }
    return 1;
}

/* What loading the bundle into an empty list appends (a context's first
 * load: most loads), worked out once per bundle. `empty`: an empty scratch
 * list, which is left as the load leaves it when the answer is new; NULL
 * with the error on the queue on failure. */
static const unsigned char *
bundle_alone(trust_bundle *bundle, STACK_OF(X509_OBJECT) *empty, int *filled)
{
    unsigned char *alone = __atomic_load_n(&bundle->alone, __ATOMIC_ACQUIRE);
    *filled = 0;
    if (alone != NULL) {
        return alone;
    }
    STACK_OF(X509_OBJECT) *objects = bundle_objects(bundle);
    if (objects == NULL) {
        return NULL;
    }
    int n = sk_X509_OBJECT_num(objects);
    alone = PyMem_RawMalloc(n > 0 ? (size_t)n : 1);
    if (alone == NULL || !simulate_source(empty, objects, alone)) {
        PyMem_RawFree(alone);
        return NULL;
    }
    *filled = 1;
    unsigned char *expected = NULL;
    if (!__atomic_compare_exchange_n(&bundle->alone, &expected, alone, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        PyMem_RawFree(alone);   /* another thread was first: the same answer */
        alone = expected;
    }
    return alone;
}

static Py_ssize_t current_suffix(struct tlsctx_trust *trust, const void *const **suffix);

/* A new store with `flags`, the lookups of `trust`'s steps, the objects of
 * `base` (in the stdlib's order, see copy_objects) and the sources of the
 * steps from `first_new` on. NULL with an exception on failure. */
static X509_STORE *
build_store(tlsctx_state *state, struct tlsctx_trust *trust, unsigned long flags,
            X509_STORE *base, Py_ssize_t first_new)
{
    const void *const *suffix;
    Py_ssize_t suffix_n = current_suffix(trust, &suffix);
    X509_STORE *store = X509_STORE_new();
    if (store == NULL || !force_flags(X509_STORE_get0_param(store), flags)) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < trust->n; i++) {
        if (trust->steps[i].kind != STEP_SOURCE && !add_lookup(store, &trust->steps[i])) {
            goto error;
        }
    }
    if (!copy_objects(base, store, suffix, suffix_n)) {
        goto error;
    }
    for (Py_ssize_t i = first_new; i < trust->n; i++) {
        if (trust->steps[i].kind == STEP_SOURCE && !add_source(store, &trust->steps[i])) {
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

/* ---- shared stores ---------------------------------------------------------- */

typedef struct {
    X509_STORE *store;   /* sorted; nothing changes it once it is in the cache */
} shared_store;

static void
shared_store_destructor(PyObject *capsule)
{
    shared_store *shared = PyCapsule_GetPointer(capsule, STORE_CAPSULE);
    if (shared != NULL) {
        X509_STORE_free(shared->store);
        PyMem_RawFree(shared);
    }
}

/* The SSL whose OpenSSL call is running on this thread (tlsctx_trust_enter):
 * OpenSSL completing the chain a connection sends verifies without telling
 * which SSL it works for. */
static _Thread_local SSL *current_ssl;

SSL *
tlsctx_trust_enter(SSL *ssl)
{
    SSL *previous = current_ssl;
    current_ssl = ssl;
    return previous;
}

void
tlsctx_trust_leave(SSL *previous)
{
    current_ssl = previous;
}

/* A verification looks something up in a shared store: the stdlib's list
 * would be sorted from now on. Runs without the GIL; the context is alive
 * (its connection holds it) and `phase` only moves by compare-and-swap, so
 * a look-up in a store the context has left since changes nothing. */
static void
note_lookup(X509_STORE_CTX *xctx)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl == NULL) {
        ssl = current_ssl;
    }
    if (ssl == NULL) {
        return;
    }
    tlsctx_context *context = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (context == NULL || context->trust == NULL) {
        return;
    }
    uintptr_t unsorted = (uintptr_t)X509_STORE_CTX_get0_store(xctx);
    __atomic_compare_exchange_n(&context->trust->phase, &unsorted, unsorted | 1, 0,
                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static int
noting_get_issuer(X509 **issuer, X509_STORE_CTX *xctx, X509 *cert)
{
    note_lookup(xctx);
    return X509_STORE_CTX_get1_issuer(issuer, xctx, cert);
}

static STACK_OF(X509) *
noting_lookup_certs(X509_STORE_CTX *xctx, const X509_NAME *name)
{
    note_lookup(xctx);
    return X509_STORE_CTX_get1_certs(xctx, name);
}

static STACK_OF(X509_CRL) *
noting_lookup_crls(const X509_STORE_CTX *xctx, const X509_NAME *name)
{
    note_lookup((X509_STORE_CTX *)xctx);
    return X509_STORE_CTX_get1_crls(xctx, name);
}

/* Sort a store and make it one that look-ups read without changing. */
static void
seal_store(X509_STORE *store)
{
    sk_X509_OBJECT_sort(X509_STORE_get0_objects(store));
    X509_STORE_set_get_issuer(store, noting_get_issuer);
    X509_STORE_set_lookup_certs(store, noting_lookup_certs);
    X509_STORE_set_lookup_crls(store, noting_lookup_crls);
}

static PyObject *
shared_key(const struct tlsctx_trust *trust, unsigned long flags)
{
    PyObject *key = PyTuple_New(trust->n + 1);
    PyObject *flags_obj = PyLong_FromUnsignedLong(flags);
    if (key == NULL || flags_obj == NULL) {
        Py_XDECREF(key);
        Py_XDECREF(flags_obj);
        return NULL;
    }
    PyTuple_SET_ITEM(key, 0, flags_obj);
    for (Py_ssize_t i = 0; i < trust->n; i++) {
        PyObject *ref = trust->steps[i].ref;
        PyObject *taken = trust->steps[i].taken;
        /* a capath and the default directory differ by their lookups; a
         * source that did not append all its objects, by what it appended */
        PyObject *item = trust->steps[i].kind == STEP_DEFAULT_PATHS ? PyTuple_Pack(1, ref)
                         : taken != NULL                            ? PyTuple_Pack(2, ref, taken)
                                                                    : Py_NewRef(ref);
        if (item == NULL) {
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, i + 1, item);
    }
    return key;
}

static void
set_phase(struct tlsctx_trust *trust, X509_STORE *store, int sorted)
{
    __atomic_store_n(&trust->phase, (uintptr_t)store | (sorted ? 1 : 0), __ATOMIC_RELEASE);
}

static int
is_sorted(struct tlsctx_trust *trust)
{
    return (__atomic_load_n(&trust->phase, __ATOMIC_ACQUIRE) & 1) != 0;
}

/* The objects the context's list has after the sorted ones, now. */
static Py_ssize_t
current_suffix(struct tlsctx_trust *trust, const void *const **suffix)
{
    *suffix = trust->suffix;
    return trust->shared && !is_sorted(trust) ? trust->suffix_n : 0;
}

/* Move the context to the shared store for its steps under `flags`,
 * building it from the context's present store on a miss (`first_new`: the
 * first step that store lacks). The caller sets the phase. */
static int
use_shared_store(tlsctx_context *self, unsigned long flags, Py_ssize_t first_new)
{
    tlsctx_state *state = self->state;
    tlsctx_trust_cache *cache = get_cache(state);
    struct tlsctx_trust *trust = self->trust;
    PyObject *key = shared_key(trust, flags);
    if (key == NULL) {
        return -1;
    }
    PyObject *capsule = cache_lookup(state, cache->stores, key, MAX_STORES);
    if (capsule == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        shared_store *shared = PyMem_RawMalloc(sizeof(*shared));
        if (shared == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        shared->store = build_store(state, trust, flags, SSL_CTX_get_cert_store(self->ctx),
                                    first_new);
        if (shared->store == NULL) {
            PyMem_RawFree(shared);
            goto error;
        }
        seal_store(shared->store);
        capsule = PyCapsule_New(shared, STORE_CAPSULE, shared_store_destructor);
        if (capsule == NULL) {
            X509_STORE_free(shared->store);
            PyMem_RawFree(shared);
            goto error;
        }
        cache_lock(cache);
        cache->misses++;
        cache_unlock(cache);
        if (cache_put(state, cache->stores, key, capsule, MAX_STORES) < 0) {
            Py_DECREF(capsule);
            goto error;
        }
    }
    Py_DECREF(key);
    shared_store *shared = PyCapsule_GetPointer(capsule, STORE_CAPSULE);
    /* the context holds the store by reference; the cache may drop it */
    SSL_CTX_set1_cert_store(self->ctx, shared->store);
    trust->shared = 1;
    Py_DECREF(capsule);
    return 0;
error:
    Py_DECREF(key);
    return -1;
}

/* Give the context a private copy of its store, as the stdlib's would be
 * now, plus the steps from `first_new` on; the context's present store is
 * left to the connections that use it. */
static int
use_private_copy(tlsctx_context *self, unsigned long flags, Py_ssize_t first_new)
{
    struct tlsctx_trust *trust = self->trust;
    X509_STORE *store = build_store(self->state, trust, flags, SSL_CTX_get_cert_store(self->ctx),
                                    first_new);
    if (store == NULL) {
        return -1;
    }
    SSL_CTX_set_cert_store(self->ctx, store);   /* takes our reference */
    trust->shared = 0;
    trust->suffix_n = 0;
    set_phase(trust, store, 1);
    return 0;
}

/* What a load of `steps` appends to the stdlib's list (see simulate_source):
 * taken[i] for each SOURCE step, one byte per object, in buffers the caller
 * frees; and the context's new suffix (the objects appended since OpenSSL
 * last sorted the list), in a new array. NULL buffers for other steps.
 * 0 on failure, with an exception set or the reason on the error queue. */
static int
plan_load(struct tlsctx_trust *trust, X509_STORE *store, const trust_step *steps, Py_ssize_t n,
          unsigned char *taken[3], const void ***suffix_out, Py_ssize_t *suffix_n_out)
{
    const void *const *suffix;
    Py_ssize_t suffix_n = current_suffix(trust, &suffix);
    STACK_OF(X509_OBJECT) *list = NULL;
    Py_ssize_t appended = 0;
    Py_ssize_t stale = -1;   /* a step the list does not show yet */
    int ok = 1;
    if (!X509_STORE_lock(store)) {   /* a private store may be in use */
        return 0;
    }
    int empty = sk_X509_OBJECT_num(X509_STORE_get0_objects(store)) == 0;
    list = stdlib_list(store, suffix, suffix_n);
    X509_STORE_unlock(store);
    ok = list != NULL;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        if (steps[i].kind != STEP_SOURCE) {
            continue;
        }
        trust_bundle *bundle = PyCapsule_GetPointer(steps[i].ref, BUNDLE_CAPSULE);
        STACK_OF(X509_OBJECT) *objects = source_objects(&steps[i]);
        if (objects == NULL) {
            ok = 0;
            break;
        }
        int count = sk_X509_OBJECT_num(objects);
        taken[i] = PyMem_Malloc(count > 0 ? (size_t)count : 1);
        if (taken[i] == NULL) {
            PyErr_NoMemory();
            ok = 0;
            break;
        }
        if (empty && stale < 0 && sk_X509_OBJECT_num(list) == 0) {
            /* the common first load: known per bundle */
            int filled;
            const unsigned char *alone = bundle_alone(bundle, list, &filled);
            ok = alone != NULL;
            if (ok) {
                memcpy(taken[i], alone, (size_t)count);
                stale = filled ? -1 : i;
            }
        }
        else {
            /* a later source of the same load: replay the first one */
            ok = (stale < 0 || simulate_source(list, source_objects(&steps[stale]), taken[stale]))
                 && simulate_source(list, objects, taken[i]);
            stale = -1;
        }
        for (int k = 0; ok && k < count; k++) {
            appended += taken[i][k];
        }
    }
    sk_X509_OBJECT_free(list);
    if (!ok) {
        return 0;
    }
    /* The suffix: each add looks the object up first, which on OpenSSL
     * 3.0-3.1 sorts the list, then appends it unless it is a duplicate. */
    const void **next = PyMem_Malloc((size_t)(suffix_n + appended + 1) * sizeof(*next));
    if (next == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    Py_ssize_t next_n = suffix_n;
    if (suffix_n > 0) {   /* suffix may be NULL when empty */
        memcpy(next, suffix, (size_t)suffix_n * sizeof(*next));
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (steps[i].kind != STEP_SOURCE) {
            continue;
        }
        STACK_OF(X509_OBJECT) *objects = source_objects(&steps[i]);
        for (int k = 0; k < sk_X509_OBJECT_num(objects); k++) {
            if (find_sorts) {
                next_n = 0;
            }
            if (taken[i][k]) {
                next[next_n++] = object_identity(sk_X509_OBJECT_value(objects, k));
            }
        }
    }
    *suffix_out = next;
    *suffix_n_out = next_n;
    return 1;
}

/* Append a SOURCE step whose load appended the objects `taken` marks (not
 * none of them) to the context's steps. */
static int
append_source(struct tlsctx_trust *trust, const trust_step *step, const unsigned char *taken)
{
    int count = sk_X509_OBJECT_num(source_objects(step));
    PyObject *subset = NULL;
    if (memchr(taken, 0, (size_t)count) != NULL) {
        subset = PyBytes_FromStringAndSize((const char *)taken, count);
        if (subset == NULL) {
            return -1;
        }
    }
    if (steps_append(trust, step) < 0) {
        Py_XDECREF(subset);
        return -1;
    }
    trust->steps[trust->n - 1].taken = subset;
    return 0;
}

/* Apply what a load adds (`steps`) to the context's trust: all of it, or
 * nothing with an exception set. A lookup already there is not added
 * again; a source is added (again, possibly) when its load appends
 * objects to the stdlib's list, and a load that appends nothing still
 * sorts the list on OpenSSL 3.0-3.1 (its look-ups do). */
static int
add_steps_eager(tlsctx_context *self, const trust_step *steps, Py_ssize_t n)
{
    struct tlsctx_trust *trust = self->trust;
    Py_ssize_t first_new = trust->n;
    unsigned char *taken[3] = {NULL, NULL, NULL};
    const void **suffix = NULL;
    Py_ssize_t suffix_n = 0;
    int last_source_adds_nothing = 0;
    int rc = -1;
    assert(n <= 3);
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    unsigned long flags = store_flags(store);
    if (!plan_load(trust, store, steps, n, taken, &suffix, &suffix_n)) {
        if (!PyErr_Occurred()) {
            tlsctx_set_ssl_error(self->state, NULL);
        }
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (steps[i].kind != STEP_SOURCE) {
            if (steps_find(trust, &steps[i]) == NULL && steps_append(trust, &steps[i]) < 0) {
                goto error;
            }
            continue;
        }
        int count = sk_X509_OBJECT_num(source_objects(&steps[i]));
        last_source_adds_nothing = count == 0 || memchr(taken[i], 1, (size_t)count) == NULL;
        if (!last_source_adds_nothing && append_source(trust, &steps[i], taken[i]) < 0) {
            goto error;
        }
    }
    if (!trust->shared) {
        int sorts = last_source_adds_nothing && find_sorts;
        if (trust->n == first_new && !sorts) {
            rc = 0;
            goto done;
        }
        /* connections may use the private store: change a copy */
        if (use_private_copy(self, flags, first_new) < 0) {
            goto error;
        }
        if (sorts) {
            sk_X509_OBJECT_sort(X509_STORE_get0_objects(SSL_CTX_get_cert_store(self->ctx)));
        }
        rc = 0;
        goto done;
    }
    if (trust->n != first_new && use_shared_store(self, flags, first_new) < 0) {
        goto error;
    }
    PyMem_Free(trust->suffix);
    trust->suffix = suffix;
    trust->suffix_n = suffix_n;
    suffix = NULL;
    set_phase(trust, SSL_CTX_get_cert_store(self->ctx), trust->suffix_n == 0);
    rc = 0;
    goto done;
error:
    steps_truncate(trust, first_new);
done:
    for (int i = 0; i < 3; i++) {
        PyMem_Free(taken[i]);
    }
    PyMem_Free(suffix);
    return rc;
}

/* ---- lazy trust ------------------------------------------------------------ */

static tlsctx_lazy_index *
step_index(const trust_step *step)
{
    if (step->kind != STEP_SOURCE) {
        return NULL;
    }
    trust_bundle *bundle = PyCapsule_GetPointer(step->ref, BUNDLE_CAPSULE);
    return bundle != NULL ? bundle->lazy : NULL;
}

/* Can a load of `steps` be served lazily? Every source must have been
 * indexed; a first load needs one. */
static int
steps_lazy(const trust_step *steps, Py_ssize_t n, int first)
{
    int sources = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (steps[i].kind == STEP_SOURCE) {
            if (step_index(&steps[i]) == NULL) {
                return 0;
            }
            sources++;
        }
    }
    return sources > 0 || !first;
}

static void
loads_clear(struct tlsctx_trust *trust)
{
    while (trust->loads_n > 0) {
        struct lazy_load *load = &trust->loads[--trust->loads_n];
        while (load->n > 0) {
            Py_DECREF(load->steps[--load->n].ref);
        }
        sk_X509_OBJECT_pop_free(load->extras_before, X509_OBJECT_free);
    }
    PyMem_Free(trust->loads);
    trust->loads = NULL;
    trust->loads_allocated = 0;
}

/* Takes `extras` (may be NULL), also on failure. */
static int
loads_push(struct tlsctx_trust *trust, const trust_step *steps, Py_ssize_t n, int sorted_before,
           STACK_OF(X509_OBJECT) *extras)
{
    if (trust->loads_n == trust->loads_allocated) {
        Py_ssize_t size = trust->loads_allocated ? trust->loads_allocated * 2 : 2;
        struct lazy_load *bigger = PyMem_Realloc(trust->loads, (size_t)size * sizeof(*bigger));
        if (bigger == NULL) {
            sk_X509_OBJECT_pop_free(extras, X509_OBJECT_free);
            PyErr_NoMemory();
            return -1;
        }
        trust->loads = bigger;
        trust->loads_allocated = size;
    }
    struct lazy_load *load = &trust->loads[trust->loads_n++];
    load->n = n;
    load->sorted_before = sorted_before;
    load->extras_before = extras;
    for (Py_ssize_t i = 0; i < n; i++) {
        load->steps[i].kind = steps[i].kind;
        load->steps[i].ref = Py_NewRef(steps[i].ref);
    }
    return 0;
}

/* Is `object` one the lookup decoded from the context's sources? */
static int
from_sources(struct tlsctx_trust *trust, const void *object)
{
    for (Py_ssize_t i = 0; i < trust->n; i++) {
        tlsctx_lazy_index *index = step_index(&trust->steps[i]);
        if (index != NULL && tlsctx_lazy_index_owns(index, object)) {
            return 1;
        }
    }
    return 0;
}

/* Was `object` recorded with a load already? */
static int
recorded(struct tlsctx_trust *trust, const void *object)
{
    for (Py_ssize_t k = 0; k < trust->loads_n; k++) {
        STACK_OF(X509_OBJECT) *extras = trust->loads[k].extras_before;
        for (int i = 0; extras != NULL && i < sk_X509_OBJECT_num(extras); i++) {
            if (object_identity(sk_X509_OBJECT_value(extras, i)) == object) {
                return 1;
            }
        }
    }
    return 0;
}

/* What the directories' lookups added to a lazy store (objects not decoded
 * from the sources) and no load recorded yet, in its order, each with a
 * reference. */
static STACK_OF(X509_OBJECT) *
lazy_extras(struct tlsctx_trust *trust, X509_STORE *store, int new_only)
{
    STACK_OF(X509_OBJECT) *extra = sk_X509_OBJECT_new_null();
    if (extra == NULL || !X509_STORE_lock(store)) {
        sk_X509_OBJECT_free(extra);
        return NULL;
    }
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
    int ok = 1;
    for (int i = 0; ok && i < sk_X509_OBJECT_num(objects); i++) {
        X509_OBJECT *obj = sk_X509_OBJECT_value(objects, i);
        if (from_sources(trust, object_identity(obj))
            || (new_only && recorded(trust, object_identity(obj)))) {
            continue;
        }
        X509_OBJECT *copy = X509_OBJECT_new();
        ok = copy != NULL
             && (X509_OBJECT_get_type(obj) == X509_LU_X509
                     ? X509_OBJECT_set1_X509(copy, X509_OBJECT_get0_X509(obj))
                     : X509_OBJECT_set1_X509_CRL(copy, X509_OBJECT_get0_X509_CRL(obj)))
             && sk_X509_OBJECT_push(extra, copy);
        if (!ok) {
            X509_OBJECT_free(copy);
        }
    }
    X509_STORE_unlock(store);
    if (!ok) {
        sk_X509_OBJECT_pop_free(extra, X509_OBJECT_free);
        return NULL;
    }
    return extra;
}

static int
add_object(X509_STORE *store, X509_OBJECT *obj)
{
    return X509_OBJECT_get_type(obj) == X509_LU_X509
               ? X509_STORE_add_cert(store, X509_OBJECT_get0_X509(obj))
               : X509_STORE_add_crl(store, X509_OBJECT_get0_X509_CRL(obj));
}

/* A store of the context's own for its steps under `flags`: a lookup over
 * the sources' indexes (first, so that it answers for the sources' names
 * before any directory does, as the certificates the stdlib loaded would),
 * the directories' lookups, the sources' CRLs, and what the directories
 * added to the context's present lazy store (`extras`), each followed, as in
 * the stdlib's list, by the sources' certificates of the same name. Nothing
 * else is decoded until a verification asks for a name. */
static X509_STORE *
build_lazy_store(struct tlsctx_trust *trust, unsigned long flags, STACK_OF(X509_OBJECT) *extras)
{
    tlsctx_lazy_index **indexes = PyMem_Malloc((size_t)(trust->n + 1) * sizeof(*indexes));
    int n_indexes = 0;
    if (indexes == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < trust->n; i++) {
        if (trust->steps[i].kind == STEP_SOURCE) {
            indexes[n_indexes++] = step_index(&trust->steps[i]);
        }
    }
    X509_STORE *store = X509_STORE_new();
    int ok = store != NULL && force_flags(X509_STORE_get0_param(store), flags)
             && tlsctx_lazy_add_lookup(store, indexes, n_indexes);
    for (Py_ssize_t i = 0; ok && i < trust->n; i++) {
        ok = trust->steps[i].kind == STEP_SOURCE
                 ? tlsctx_lazy_index_add_crls(step_index(&trust->steps[i]), store)
                 : add_lookup(store, &trust->steps[i]);
    }
    for (int i = 0; ok && extras != NULL && i < sk_X509_OBJECT_num(extras); i++) {
        X509_OBJECT *obj = sk_X509_OBJECT_value(extras, i);
        ok = add_object(store, obj);
        if (ok && X509_OBJECT_get_type(obj) == X509_LU_X509) {
            (void)tlsctx_lazy_add_named(store, indexes, n_indexes,
                                        X509_get_subject_name(X509_OBJECT_get0_X509(obj)));
        }
    }
    PyMem_Free(indexes);
    if (!ok) {
        X509_STORE_free(store);
        return NULL;
    }
    seal_store(store);
    ERR_clear_error();
    return store;
}

/* The lazy store for the context's steps under `flags`, shared between
 * contexts through the cache (a new reference). Its lookup adds only the
 * sources' certificates, every one of a name at once, so what it holds for
 * a name never depends on which context asked first; a context with
 * directory look-ups gets a store of its own before a connection uses it. */
static X509_STORE *
shared_lazy_store(tlsctx_context *self, unsigned long flags)
{
    tlsctx_state *state = self->state;
    tlsctx_trust_cache *cache = get_cache(state);
    PyObject *inner = shared_key(self->trust, flags);
    PyObject *key = inner != NULL ? Py_BuildValue("(sO)", "lazy", inner) : NULL;
    Py_XDECREF(inner);
    if (key == NULL) {
        return NULL;
    }
    X509_STORE *result = NULL;
    PyObject *capsule = cache_lookup(state, cache->stores, key, MAX_STORES);
    if (capsule == NULL) {
        if (PyErr_Occurred()) {
            goto done;
        }
        shared_store *shared = PyMem_RawMalloc(sizeof(*shared));
        if (shared == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        shared->store = build_lazy_store(self->trust, flags, NULL);
        if (shared->store == NULL) {
            PyMem_RawFree(shared);
            tlsctx_set_ssl_error(state, NULL);
            goto done;
        }
        capsule = PyCapsule_New(shared, STORE_CAPSULE, shared_store_destructor);
        if (capsule == NULL) {
            X509_STORE_free(shared->store);
            PyMem_RawFree(shared);
            goto done;
        }
        if (cache_put(state, cache->stores, key, capsule, MAX_STORES) < 0) {
            goto done;
        }
    }
    shared_store *shared = PyCapsule_GetPointer(capsule, STORE_CAPSULE);
    if (shared != NULL && X509_STORE_up_ref(shared->store)) {
        result = shared->store;
    }
    else if (!PyErr_Occurred()) {
        tlsctx_set_ssl_error(state, NULL);
    }
done:
    Py_XDECREF(capsule);
    Py_DECREF(key);
    return result;
}

/* Move a lazy context (or a fresh one, trust->n == 0) to a new lazy store
 * for its steps under `flags`; `looked_up`: whether the new store starts as
 * one a verification has used. */
static int
use_lazy_store(tlsctx_context *self, unsigned long flags, int looked_up)
{
    struct tlsctx_trust *trust = self->trust;
    X509_STORE *present = SSL_CTX_get_cert_store(self->ctx);
    X509_STORE *store;
    int own = trust->lazy && trust->lazy_private;
    if (own) {
        /* what the directories added stays the context's own */
        STACK_OF(X509_OBJECT) *extras = lazy_extras(trust, present, 0);
        if (extras == NULL) {
            tlsctx_set_ssl_error(self->state, NULL);
            return -1;
        }
        store = build_lazy_store(trust, flags, extras);
        sk_X509_OBJECT_pop_free(extras, X509_OBJECT_free);
        if (store == NULL) {
            tlsctx_set_ssl_error(self->state, NULL);
            return -1;
        }
    }
    else if ((store = shared_lazy_store(self, flags)) == NULL) {
        return -1;
    }
    SSL_CTX_set_cert_store(self->ctx, store);   /* takes our reference */
    trust->shared = 0;
    trust->lazy = 1;
    trust->lazy_private = own;
    trust->lazy_pinned = 0;
    trust->suffix_n = 0;
    set_phase(trust, store, looked_up);
    return 0;
}

/* A load served lazily: recorded for a later replay, the steps appended,
 * and a new store (connections keep the one they pinned). */
static int
lazy_load(tlsctx_context *self, const trust_step *steps, Py_ssize_t n)
{
    struct tlsctx_trust *trust = self->trust;
    Py_ssize_t first_new = trust->n;
    int looked_up = trust->lazy && is_sorted(trust);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (steps_find(trust, &steps[i]) == NULL && steps_append(trust, &steps[i]) < 0) {
            goto error;
        }
    }
    STACK_OF(X509_OBJECT) *extras = NULL;
    if (looked_up) {
        extras = lazy_extras(trust, SSL_CTX_get_cert_store(self->ctx), 1);
        if (extras == NULL) {
            tlsctx_set_ssl_error(self->state, NULL);
            goto error;
        }
    }
    if (loads_push(trust, steps, n, looked_up, extras) < 0) {
        goto error;
    }
    if (trust->lazy && trust->n == first_new) {
        return 0;   /* nothing new for the store (nor the stdlib's list): keep it */
    }
    if (use_lazy_store(self, store_flags(SSL_CTX_get_cert_store(self->ctx)), 0) < 0) {
        struct lazy_load *load = &trust->loads[--trust->loads_n];
        while (load->n > 0) {
            Py_DECREF(load->steps[--load->n].ref);
        }
        sk_X509_OBJECT_pop_free(load->extras_before, X509_OBJECT_free);
        goto error;
    }
    return 0;
error:
    steps_truncate(trust, first_new);
    return -1;
}

/* A verification looked something up: the stdlib's list is sorted now. A
 * private store is the list itself. */
static void
mark_sorted(tlsctx_context *self)
{
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    set_phase(self->trust, store, 1);
    if (!self->trust->shared && X509_STORE_lock(store)) {
        sk_X509_OBJECT_sort(X509_STORE_get0_objects(store));
        X509_STORE_unlock(store);
    }
}

/* What the directories' lookups added during a verification, added to a
 * private copy of the context's (sorted) store as the lookups added them;
 * the verification's look-ups sorted the list again. */
static int
add_extras(tlsctx_context *self, unsigned long flags, STACK_OF(X509_OBJECT) *extras)
{
    if (extras == NULL || sk_X509_OBJECT_num(extras) == 0) {
        return 0;
    }
    set_phase(self->trust, SSL_CTX_get_cert_store(self->ctx), 1);
    if (use_private_copy(self, flags, self->trust->n) < 0) {
        return -1;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    int ok = 1;
    for (int i = 0; ok && i < sk_X509_OBJECT_num(extras); i++) {
        ok = add_object(store, sk_X509_OBJECT_value(extras, i));
    }
    if (!ok || !X509_STORE_lock(store)) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    sk_X509_OBJECT_sort(X509_STORE_get0_objects(store));
    X509_STORE_unlock(store);
    return 0;
}

/* Leave the lazy store for the stores the context would have had without
 * it: make the same loads again the ordinary way (which decodes each source
 * fully, once per process), under the present flags, with the list sorted
 * where verifications sorted the stdlib's; what the directories' lookups
 * added goes to a private copy. Connections keep the lazy store they
 * pinned. All or nothing. */
static int
lazy_materialize(tlsctx_context *self)
{
    struct tlsctx_trust *trust = self->trust;
    if (!trust->lazy) {
        return 0;
    }
    X509_STORE *lazy_store = SSL_CTX_get_cert_store(self->ctx);
    unsigned long flags = store_flags(lazy_store);
    int looked_up = is_sorted(trust);
    trust_step *steps = trust->steps;
    Py_ssize_t n = trust->n, allocated = trust->allocated;
    STACK_OF(X509_OBJECT) *extras = looked_up ? lazy_extras(trust, lazy_store, 1) : NULL;
    X509_STORE *empty = X509_STORE_new();
    if ((looked_up && extras == NULL) || empty == NULL
        || !force_flags(X509_STORE_get0_param(empty), flags) || !X509_STORE_up_ref(lazy_store)) {
        sk_X509_OBJECT_pop_free(extras, X509_OBJECT_free);
        X509_STORE_free(empty);
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    seal_store(empty);
    SSL_CTX_set_cert_store(self->ctx, empty);
    trust->steps = NULL;
    trust->n = trust->allocated = 0;
    trust->lazy = 0;
    trust->shared = 1;
    trust->suffix_n = 0;
    set_phase(trust, empty, 1);
    for (Py_ssize_t k = 0; k < trust->loads_n; k++) {
        struct lazy_load *load = &trust->loads[k];
        if (load->sorted_before) {
            mark_sorted(self);
        }
        if (add_extras(self, flags, load->extras_before) < 0
            || add_steps_eager(self, load->steps, load->n) < 0) {
            goto error;
        }
    }
    if (looked_up) {
        mark_sorted(self);
    }
    if (add_extras(self, flags, extras) < 0) {
        goto error;
    }
    ERR_clear_error();
    sk_X509_OBJECT_pop_free(extras, X509_OBJECT_free);
    loads_clear(trust);
    while (n > 0) {
        Py_DECREF(steps[--n].ref);
    }
    PyMem_Free(steps);
    X509_STORE_free(lazy_store);
    return 0;
error:
    /* back to the lazy store, as it was */
    sk_X509_OBJECT_pop_free(extras, X509_OBJECT_free);
    steps_truncate(trust, 0);
    PyMem_Free(trust->steps);
    trust->steps = steps;
    trust->n = n;
    trust->allocated = allocated;
    SSL_CTX_set_cert_store(self->ctx, lazy_store);   /* takes our reference */
    trust->lazy = 1;
    trust->shared = 0;
    trust->suffix_n = 0;
    set_phase(trust, lazy_store, looked_up);
    return -1;
}

int
tlsctx_trust_materialize(tlsctx_context *self)
{
    return lazy_materialize(self);
}

/* Apply what a load adds (`steps`): lazily when the context has loaded only
 * indexed sources so far (or nothing) and these are indexed too, else as
 * the stdlib would. */
static int
add_steps(tlsctx_context *self, const trust_step *steps, Py_ssize_t n)
{
    struct tlsctx_trust *trust = self->trust;
    if ((trust->lazy || (trust->n == 0 && trust->shared))
        && steps_lazy(steps, n, !trust->lazy)) {
        return lazy_load(self, steps, n);
    }
    if (lazy_materialize(self) < 0) {
        return -1;
    }
    return add_steps_eager(self, steps, n);
}

/* ---- the context-facing API --------------------------------------------- */

int
tlsctx_trust_init(tlsctx_context *self)
{
    struct tlsctx_trust *trust = PyMem_Calloc(1, sizeof(*trust));
    if (trust == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->trust = trust;
    /* the SSL_CTX's own empty store: shared, in that nothing changes it */
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    seal_store(store);
    trust->shared = 1;
    set_phase(trust, store, 1);
    return 0;
}

void
tlsctx_trust_free(tlsctx_context *self)
{
    if (self->trust != NULL) {
        steps_truncate(self->trust, 0);
        loads_clear(self->trust);
        PyMem_Free(self->trust->steps);
        PyMem_Free(self->trust->suffix);
        PyMem_Free(self->trust);
        self->trust = NULL;
    }
}

int
tlsctx_trust_load(tlsctx_context *self, PyObject *cafile, PyObject *capath,
                  const char *cadata, Py_ssize_t cadata_len, int cadata_pem)
{
    tlsctx_state *state = self->state;
    trust_step steps[3];
    Py_ssize_t n = 0;
    int rc = -1;
    /* the stdlib's order: cadata, then cafile, then capath */
    if (cadata != NULL) {
        steps[n].kind = STEP_SOURCE;
        steps[n].ref = data_bundle(state, cadata, cadata_len, cadata_pem);
        if (steps[n].ref == NULL) {
            goto done;
        }
        n++;
    }
    if (cafile != NULL) {
        steps[n].kind = STEP_SOURCE;
        steps[n].ref = file_bundle(state, cafile);
        if (steps[n].ref == NULL) {
            goto done;
        }
        n++;
    }
    if (capath != NULL) {
        steps[n].kind = STEP_CAPATH;
        steps[n].ref = Py_NewRef(capath);
        n++;
    }
    rc = add_steps(self, steps, n);
done:
    while (n > 0) {
        Py_DECREF(steps[--n].ref);
    }
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
    trust_step steps[2];
    Py_ssize_t n = 0;
    int rc = -1;
    PyObject *path = PyBytes_FromString(file);
    if (path == NULL) {
        return -1;
    }
    /* like OpenSSL, a missing or unreadable default file is no error */
    PyObject *bundle = file_bundle(state, path);
    Py_DECREF(path);
    if (bundle == NULL) {
        PyErr_Clear();
        ERR_clear_error();
    }
    else {
        steps[n].kind = STEP_SOURCE;
        steps[n].ref = bundle;
        n++;
    }
    steps[n].kind = STEP_DEFAULT_PATHS;
    steps[n].ref = PyBytes_FromString(dir);
    if (steps[n].ref == NULL) {
        goto done;
    }
    n++;
    rc = add_steps(self, steps, n);
done:
    while (n > 0) {
        Py_DECREF(steps[--n].ref);
    }
    return rc;
}

int
tlsctx_trust_set_verify_flags(tlsctx_context *self, unsigned long wanted)
{
    unsigned long current = store_flags(SSL_CTX_get_cert_store(self->ctx));
    unsigned long clear = current & ~wanted;
    unsigned long set = ~current & wanted;
    if (clear == 0 && set == 0) {
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
    struct tlsctx_trust *trust = self->trust;
    if (trust->lazy && trust->lazy_private && !trust->lazy_pinned) {
        /* no connection uses its own lazy store yet: it takes the flags itself */
        if (!force_flags(X509_STORE_get0_param(SSL_CTX_get_cert_store(self->ctx)), result)) {
            tlsctx_set_ssl_error(self->state, NULL);
            return -1;
        }
        return 0;
    }
    if (trust->lazy) {
        return use_lazy_store(self, result, is_sorted(trust));
    }
    if (!trust->shared) {
        return use_private_copy(self, result, trust->n);
    }
    int sorted = is_sorted(trust);
    if (use_shared_store(self, result, trust->n) < 0) {
        return -1;
    }
    set_phase(trust, SSL_CTX_get_cert_store(self->ctx), sorted);
    return 0;
}

int
tlsctx_trust_pin(tlsctx_context *self, SSL *ssl)
{
    struct tlsctx_trust *trust = self->trust;
    if (trust->lazy) {
        /* directory look-ups add to the store during verification: a store
         * of the context's own first (decoded certificates are shared) */
        if (!trust->lazy_private && steps_has_lookups(trust)) {
            X509_STORE *present = SSL_CTX_get_cert_store(self->ctx);
            int looked_up = is_sorted(trust);
            X509_STORE *own = build_lazy_store(trust, store_flags(present), NULL);
            if (own == NULL) {
                tlsctx_set_ssl_error(self->state, NULL);
                return -1;
            }
            SSL_CTX_set_cert_store(self->ctx, own);   /* takes our reference */
            trust->lazy_private = 1;
            set_phase(trust, own, looked_up);
        }
        trust->lazy_pinned = 1;
    }
    /* look-ups in a capath add to the store during verification: a context
     * with lookups gets a store of its own first, so that no other context
     * sees the additions */
    if (trust->shared && steps_has_lookups(trust)) {
        X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
        if (use_private_copy(self, store_flags(store), trust->n) < 0) {
            return -1;
        }
    }
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    if (!SSL_set1_verify_cert_store(ssl, store) || !SSL_set1_chain_cert_store(ssl, store)) {
        tlsctx_set_ssl_error(self->state, NULL);
        return -1;
    }
    return 0;
}

STACK_OF(X509) *
tlsctx_trust_ca_certs(tlsctx_context *self)
{
    if (lazy_materialize(self) < 0) {
        return NULL;
    }
    const void *const *suffix;
    Py_ssize_t suffix_n = current_suffix(self->trust, &suffix);
    X509_STORE *store = SSL_CTX_get_cert_store(self->ctx);
    STACK_OF(X509) *certs = sk_X509_new_null();
    /* a private store may grow under a handshake on another thread */
    if (certs == NULL || !X509_STORE_lock(store)) {
        sk_X509_free(certs);
        tlsctx_set_ssl_error(self->state, NULL);
        return NULL;
    }
    /* the objects in the stdlib's order */
    STACK_OF(X509_OBJECT) *list = stdlib_list(store, suffix, suffix_n);
    int ok = list != NULL;
    for (int i = 0; ok && i < sk_X509_OBJECT_num(list); i++) {
        X509 *cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(list, i));
        if (cert != NULL && X509_check_ca(cert)) {
            ok = X509_up_ref(cert);
            if (ok && !sk_X509_push(certs, cert)) {
                X509_free(cert);
                ok = 0;
            }
        }
    }
    sk_X509_OBJECT_free(list);
    X509_STORE_unlock(store);
    if (!ok) {
        sk_X509_pop_free(certs, X509_free);
        tlsctx_set_ssl_error(self->state, NULL);
        return NULL;
    }
    /* X509_check_ca caches extension data and may leave errors behind */
    ERR_clear_error();
    return certs;
}

/* ---- module functions ----------------------------------------------------- */

static PyObject *
trust_cache_clear(PyObject *module, PyObject *unused)
{
    tlsctx_trust_cache *cache = get_cache(tlsctx_get_state(module));
    /* the entries die outside the lock: only C destructors, but cheap to be sure */
    PyObject *bundles = PyDict_New(), *stores = PyDict_New();
    if (bundles == NULL || stores == NULL) {
        Py_XDECREF(bundles);
        Py_XDECREF(stores);
        return NULL;
    }
    cache_lock(cache);
    Py_SETREF(bundles, Py_NewRef(cache->bundles));
    Py_SETREF(stores, Py_NewRef(cache->stores));
    PyObject *fresh_bundles = PyDict_New(), *fresh_stores = PyDict_New();
    if (fresh_bundles != NULL && fresh_stores != NULL) {
        Py_SETREF(cache->bundles, fresh_bundles);
        Py_SETREF(cache->stores, fresh_stores);
        fresh_bundles = fresh_stores = NULL;
    }
    cache_unlock(cache);
    Py_XDECREF(fresh_bundles);
    Py_XDECREF(fresh_stores);
    Py_DECREF(bundles);
    Py_DECREF(stores);
    Py_RETURN_NONE;
}

static PyObject *
trust_cache_info(PyObject *module, PyObject *unused)
{
    tlsctx_trust_cache *cache = get_cache(tlsctx_get_state(module));
    cache_lock(cache);
    Py_ssize_t sources = PyDict_GET_SIZE(cache->bundles), stores = PyDict_GET_SIZE(cache->stores);
    unsigned long long hits = cache->hits, misses = cache->misses, parses = cache->parses;
    cache_unlock(cache);
    return Py_BuildValue("{snsnsnsnsKsKsK}", "sources", sources,
                         "max_sources", (Py_ssize_t)MAX_BUNDLES, "stores", stores,
                         "max_stores", (Py_ssize_t)MAX_STORES, "hits", hits,
                         "store_builds", misses, "parses", parses);
}

static PyObject *
pem_fast_scans(PyObject *module, PyObject *unused)
{
    return PyLong_FromUnsignedLong(tlsctx_lazy_pem_fast_scans());
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

static PyObject *
set_lazy_trust(PyObject *module, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0) {
        return NULL;
    }
    int was = __atomic_exchange_n(&lazy_enabled, on, __ATOMIC_RELAXED);
    return PyBool_FromLong(was);
}

static PyObject *
trust_state(PyObject *module, PyObject *arg)
{
    tlsctx_state *state = tlsctx_get_state(module);
    if (!PyObject_TypeCheck(arg, state->context_type)) {
        PyErr_SetString(PyExc_TypeError, "an SSLContext is required");
        return NULL;
    }
    struct tlsctx_trust *trust = ((tlsctx_context *)arg)->trust;
    return PyUnicode_FromString(trust->lazy ? "lazy" : trust->shared ? "shared" : "private");
}

static PyMethodDef trust_functions[] = {
    {"_trust_state", trust_state, METH_O,
     "How a context holds its trust: 'lazy', 'shared' or 'private' (for tests)."},
    {"_set_lazy_trust", set_lazy_trust, METH_O,
     "Index new trust sources lazily (True) or parse them fully; returns the previous setting."},
    {"_trust_cache_clear", trust_cache_clear, METH_NOARGS,
     "Forget every parsed trust source and shared store."},
    {"_trust_cache_info", trust_cache_info, METH_NOARGS,
     "Sizes, bounds and counters of the trust cache."},
    {"_pem_fast_scans", pem_fast_scans, METH_NOARGS,
     "How many PEM sources the one-pass reader has read whole (for tests)."},
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
#if PY_VERSION_HEX < 0x030D0000
    if (cache->lock != NULL) {
        PyThread_free_lock(cache->lock);
    }
#endif
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
    if (tlsctx_trust_probe_openssl() < 0 || tlsctx_lazy_setup() < 0) {
        PyErr_NoMemory();
        return -1;
    }
    const char *lazy = getenv("TLSCTX_LAZY_TRUST");
    if (lazy != NULL && strcmp(lazy, "0") == 0) {
        __atomic_store_n(&lazy_enabled, 0, __ATOMIC_RELAXED);
    }
#if PY_VERSION_HEX < 0x030D0000
    cache->lock = PyThread_allocate_lock();
    if (cache->lock == NULL) {
        PyErr_NoMemory();
        return -1;
    }
#endif
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
