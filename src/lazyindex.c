/* The lazy trust index: a bundle's certificates kept as DER and looked up by
 * subject name, decoded only when a verification asks for that name.
 *
 * At load, each certificate goes through a structural decode that reads the
 * certificate's fields and names but leaves the public key as bytes (the
 * costly part of a full decode on OpenSSL 3) and its names as bytes that
 * are checked (name_decodes), not decoded; CRLs are decoded at once. Any
 * input this cannot index with certainty (other PEM blocks, PEM headers, a
 * structure the check refuses) makes the scan give up, and the caller parses
 * the source the ordinary way, which raises the stdlib's error.
 *
 * An X509_LOOKUP over the indexes of a store answers a by-subject miss as
 * OpenSSL's hashed-directory lookup does: it adds every certificate of that
 * name to the store (all at once, under the store's lock, so that no
 * verification sees part of them) and returns the first. Decoded
 * certificates are kept in the index, shared by every store that uses it:
 * an entry is published once by compare-and-swap and never changes after.
 * An index is immutable once scanned, apart from those published pointers,
 * and reference-counted without the GIL (stores may be freed anywhere). */
#include "_tlsctx.h"
#include "lazyindex.h"

#include <openssl/asn1t.h>
#include <openssl/pem.h>

/* ---- the structural check ----------------------------------------------- */

/* A certificate as X509_it decodes it, with the key left undecoded. */
typedef struct {
    X509_ALGOR *algorithm;
    ASN1_BIT_STRING *key;
} LAZY_SPKI;

ASN1_SEQUENCE(LAZY_SPKI) = {
    ASN1_SIMPLE(LAZY_SPKI, algorithm, X509_ALGOR),
    ASN1_SIMPLE(LAZY_SPKI, key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(LAZY_SPKI)

typedef struct {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *signature;
    ASN1_TYPE *issuer;        /* kept as their encodings: see name_decodes */
    X509_VAL *validity;
    ASN1_TYPE *subject;       /* likewise */
    LAZY_SPKI *key;
    ASN1_BIT_STRING *issuer_uid;
    ASN1_BIT_STRING *subject_uid;
    STACK_OF(X509_EXTENSION) *extensions;
} LAZY_TBS;

ASN1_SEQUENCE(LAZY_TBS) = {
    ASN1_EXP_OPT(LAZY_TBS, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(LAZY_TBS, serial, ASN1_INTEGER),
    ASN1_SIMPLE(LAZY_TBS, signature, X509_ALGOR),
    ASN1_SIMPLE(LAZY_TBS, issuer, ASN1_ANY),
    ASN1_SIMPLE(LAZY_TBS, validity, X509_VAL),
    ASN1_SIMPLE(LAZY_TBS, subject, ASN1_ANY),
    ASN1_SIMPLE(LAZY_TBS, key, LAZY_SPKI),
    ASN1_IMP_OPT(LAZY_TBS, issuer_uid, ASN1_BIT_STRING, 1),
    ASN1_IMP_OPT(LAZY_TBS, subject_uid, ASN1_BIT_STRING, 2),
    ASN1_EXP_SEQUENCE_OF_OPT(LAZY_TBS, extensions, X509_EXTENSION, 3),
} ASN1_SEQUENCE_END(LAZY_TBS)

typedef struct {
    LAZY_TBS *tbs;
    X509_ALGOR *algorithm;
    ASN1_BIT_STRING *signature;
} LAZY_CERT;

ASN1_SEQUENCE(LAZY_CERT) = {
    ASN1_SIMPLE(LAZY_CERT, tbs, LAZY_TBS),
    ASN1_SIMPLE(LAZY_CERT, algorithm, X509_ALGOR),
    ASN1_SIMPLE(LAZY_CERT, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(LAZY_CERT)

/* ---- the index ------------------------------------------------------------ */

typedef struct {
    unsigned char *der;       /* a certificate: its encoding; NULL for a CRL */
    long len;
    /* certificates: the subject's encoding (inside `der`) and the hash of
     * its canonical form (names that X509_NAME_cmp finds equal hash alike),
     * computed by the first look-up that needs it and published once:
     * HASH_KNOWN set with the hash below it (atomic) */
    const unsigned char *subject;
    long subject_len;
    unsigned long long subject_hash;
    X509 *cert;               /* certificates: published once decoded */
    X509_CRL *crl;            /* CRLs: decoded at load */
} lazy_entry;

struct tlsctx_lazy_index {
    int refs;                 /* atomic */
    int n, allocated;
    lazy_entry *entries;      /* in source order */
    STACK_OF(X509_OBJECT) *objects;   /* published once every entry is decoded */
};

static void
entry_clear(lazy_entry *entry)
{
    OPENSSL_free(entry->der);
    X509_free(entry->cert);
    X509_CRL_free(entry->crl);
}

tlsctx_lazy_index *
tlsctx_lazy_index_ref(tlsctx_lazy_index *index)
{
    __atomic_add_fetch(&index->refs, 1, __ATOMIC_RELAXED);
    return index;
}

void
tlsctx_lazy_index_unref(tlsctx_lazy_index *index)
{
    if (index == NULL || __atomic_sub_fetch(&index->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    for (int i = 0; i < index->n; i++) {
        entry_clear(&index->entries[i]);
    }
    OPENSSL_free(index->entries);
    sk_X509_OBJECT_pop_free(index->objects, X509_OBJECT_free);
    OPENSSL_free(index);
}

static lazy_entry *
index_append(tlsctx_lazy_index *index)
{
    if (index->n == index->allocated) {
        int size = index->allocated ? index->allocated * 2 : 16;
        lazy_entry *bigger = OPENSSL_realloc(index->entries, (size_t)size * sizeof(*bigger));
        if (bigger == NULL) {
            return NULL;
        }
        index->entries = bigger;
        index->allocated = size;
    }
    lazy_entry *entry = &index->entries[index->n++];
    memset(entry, 0, sizeof(*entry));
    return entry;
}

/* ---- names -------------------------------------------------------------------

 * Decoding a name is most of what the check costs (OpenSSL computes its
 * canonical form at once), and a name only needs to be known to decode at
 * load: it is decoded when a look-up first needs it. name_simple reads the
 * form almost every certificate has, where decoding certainly succeeds:
 * minimal DER lengths, non-empty RDN sets of (OID, string) pairs, OIDs
 * OpenSSL reads, and printable ASCII in PrintableString, UTF8String,
 * IA5String or T61String (their canonical forms cannot fail). Any other
 * name is decoded by OpenSSL, which decides. */

/* One DER header at *p (within end): a one-byte tag and a minimal length. */
static int
der_header(const unsigned char **p, const unsigned char *end, unsigned char tag, size_t *len)
{
    const unsigned char *q = *p;
    if (end - q < 2 || q[0] != tag) {
        return 0;
    }
    size_t n = q[1];
    q += 2;
    if (n == 0x81) {
        if (end - q < 1 || q[0] < 0x80) {
            return 0;
        }
        n = q[0];
        q += 1;
    }
    else if (n == 0x82) {
        if (end - q < 2 || q[0] == 0) {
            return 0;
        }
        n = ((size_t)q[0] << 8) | q[1];
        q += 2;
    }
    else if (n > 0x7f) {
        return 0;
    }
    if ((size_t)(end - q) < n) {
        return 0;
    }
    *p = q;
    *len = n;
    return 1;
}

static int
oid_simple(const unsigned char *p, size_t n)
{
    if (n == 0 || (p[n - 1] & 0x80)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        /* a sub-identifier does not start with 0x80 */
        if (p[i] == 0x80 && (i == 0 || !(p[i - 1] & 0x80))) {
            return 0;
        }
    }
    return 1;
}

static int
name_simple(const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n, *seq_end;
    size_t len;
    if (!der_header(&p, end, 0x30, &len) || p + len != end) {
        return 0;
    }
    seq_end = end;
    while (p < seq_end) {
        if (!der_header(&p, seq_end, 0x31, &len) || len == 0) {
            return 0;
        }
        const unsigned char *set_end = p + len;
        while (p < set_end) {
            if (!der_header(&p, set_end, 0x30, &len)) {
                return 0;
            }
            const unsigned char *entry_end = p + len;
            if (!der_header(&p, entry_end, 0x06, &len) || !oid_simple(p, len)) {
                return 0;
            }
            p += len;
            if (p == entry_end) {
                return 0;
            }
            unsigned char tag = *p;
            if (tag != V_ASN1_PRINTABLESTRING && tag != V_ASN1_UTF8STRING && tag != V_ASN1_IA5STRING
                && tag != V_ASN1_T61STRING) {
                return 0;
            }
            if (!der_header(&p, entry_end, tag, &len) || p + len != entry_end) {
                return 0;
            }
            for (size_t i = 0; i < len; i++) {
                if (p[i] < 0x20 || p[i] > 0x7e) {
                    return 0;
                }
            }
            p += len;
        }
    }
    return 1;
}

/* Would this captured name decode as the X509_NAME it is in a certificate? */
static int
name_decodes(const ASN1_TYPE *captured)
{
    if (captured->type != V_ASN1_SEQUENCE) {
        return 0;
    }
    const unsigned char *p = ASN1_STRING_get0_data(captured->value.sequence);
    long len = ASN1_STRING_length(captured->value.sequence);
    if (name_simple(p, (size_t)len)) {
        return 1;
    }
    const unsigned char *start = p;
    X509_NAME *name = d2i_X509_NAME(NULL, &p, len);
    int ok = name != NULL && p - start == len;
    X509_NAME_free(name);
    return ok;
}

#define HASH_KNOWN (1ULL << 63)

/* The entry's subject hash, computed once; 0 (with *known 0) if it cannot be. */
static unsigned long
entry_subject_hash(lazy_entry *entry, int *known)
{
    unsigned long long h = __atomic_load_n(&entry->subject_hash, __ATOMIC_ACQUIRE);
    if (!(h & HASH_KNOWN)) {
        const unsigned char *p = entry->subject;
        X509_NAME *subject = d2i_X509_NAME(NULL, &p, entry->subject_len);
        int hashed = 0;
        unsigned long value = subject != NULL ? X509_NAME_hash_ex(subject, NULL, NULL, &hashed) : 0;
        X509_NAME_free(subject);
        if (!hashed) {
            *known = 0;
            return 0;
        }
        h = HASH_KNOWN | value;
        __atomic_store_n(&entry->subject_hash, h, __ATOMIC_RELEASE);
    }
    *known = 1;
    return (unsigned long)(h & ~HASH_KNOWN);
}

/* Check one certificate's structure and index it; 0 if it does not pass.
 * `data` takes what the certificate consumed of it. */
static int
index_certificate(tlsctx_lazy_index *index, const unsigned char *data, long len)
{
    const unsigned char *p = data;
    LAZY_CERT *cert = (LAZY_CERT *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(LAZY_CERT));
    if (cert == NULL || !name_decodes(cert->tbs->subject)
        || (ASN1_TYPE_cmp(cert->tbs->issuer, cert->tbs->subject) != 0
            && !name_decodes(cert->tbs->issuer))) {
        ASN1_item_free((ASN1_VALUE *)cert, ASN1_ITEM_rptr(LAZY_CERT));
        return 0;
    }
    long used = (long)(p - data);
    lazy_entry *entry = index_append(index);
    int ok = entry != NULL;
    if (ok) {
        const unsigned char *name_der = ASN1_STRING_get0_data(cert->tbs->subject->value.sequence);
        size_t name_len = (size_t)ASN1_STRING_length(cert->tbs->subject->value.sequence);
        entry->der = OPENSSL_memdup(data, (size_t)used);
        entry->len = used;
        ok = entry->der != NULL;
        /* the subject as encoded in the certificate (an issuer with the same
         * encoding found first is the same bytes) */
        for (long at = 0; ok && entry->subject == NULL && at + (long)name_len <= used; at++) {
            if (memcmp(entry->der + at, name_der, name_len) == 0) {
                entry->subject = entry->der + at;
                entry->subject_len = (long)name_len;
            }
        }
        ok = ok && entry->subject != NULL;
    }
    ASN1_item_free((ASN1_VALUE *)cert, ASN1_ITEM_rptr(LAZY_CERT));
    return ok;
}

static int
index_crl(tlsctx_lazy_index *index, const unsigned char *data, long len)
{
    const unsigned char *p = data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, len);
    lazy_entry *entry = crl != NULL ? index_append(index) : NULL;
    if (entry == NULL) {
        X509_CRL_free(crl);
        return 0;
    }
    entry->crl = crl;
    return 1;
}

/* ---- reading PEM ------------------------------------------------------------ */

/* PEM_read_bio reads a line at a time through a BIO and decodes base64 with
 * EVP_DecodeUpdate: a third of a bundle's load. pem_next reads the plain
 * form that bundles use (BEGIN and END lines, lines of base64 that are whole
 * groups of four, no headers) in one pass, and answers "uncertain" at
 * anything else, after which scan_pem reads the whole input the library's
 * way: where it answers, it gives the blocks PEM_read_bio gives. */
enum { PEM_END = 0, PEM_BLOCK = 1, PEM_UNCERTAIN = -1 };

#define PEM_MAX_LINE 200   /* PEM_read_bio splits lines past 254 bytes */
#define PEM_NAME_MAX 64

static signed char b64_value[256];
static CRYPTO_ONCE b64_once = CRYPTO_ONCE_STATIC_INIT;

static void
b64_setup(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64_value, -1, sizeof(b64_value));
    for (int i = 0; i < 64; i++) {
        b64_value[(unsigned char)alphabet[i]] = (signed char)i;
    }
}

/* The line at `at`: its length without the newline and trailing blanks
 * (PEM_read_bio strips those too); *next: where the next line starts. -1
 * for a line PEM_read_bio might read differently (a NUL, a long line). */
static long
pem_line(const char *data, size_t len, size_t at, size_t *next)
{
    const char *start = data + at;
    const char *nl = memchr(start, '\n', len - at);
    size_t n = nl != NULL ? (size_t)(nl - start) : len - at;
    *next = at + n + (nl != NULL);
    if (n > PEM_MAX_LINE || memchr(start, '\0', n) != NULL) {
        return -1;
    }
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t' || start[n - 1] == '\r')) {
        n--;
    }
    return (long)n;
}

static int
has_prefix(const char *line, long n, const char *prefix)
{
    size_t k = strlen(prefix);
    return (size_t)n >= k && memcmp(line, prefix, k) == 0;
}

/* The next block from *pos: its name (NUL-terminated) and its body, newly
 * allocated. */
static int
pem_next(const char *data, size_t len, size_t *pos, char name[PEM_NAME_MAX],
         unsigned char **body, long *body_len)
{
    static const char begin[] = "-----BEGIN ", end[] = "-----END ", tail[] = "-----";
    size_t at = *pos, next;
    long n;
    if (at == 0 && len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        return PEM_UNCERTAIN;   /* a byte-order mark: PEM_read_bio skips it */
    }
    /* the BEGIN line; PEM_read_bio skips any other line before it */
    for (;; at = next) {
        if (at >= len) {
            return PEM_END;
        }
        n = pem_line(data, len, at, &next);
        if (n < 0) {
            return PEM_UNCERTAIN;
        }
        if (has_prefix(data + at, n, "-----")) {
            break;
        }
    }
    const char *line = data + at;
    long name_len = n - (long)strlen(begin) - (long)strlen(tail);
    if (!has_prefix(line, n, begin) || name_len <= 0 || name_len >= PEM_NAME_MAX
        || memcmp(line + n - strlen(tail), tail, strlen(tail)) != 0
        || memchr(line + strlen(begin), '-', (size_t)name_len) != NULL) {
        return PEM_UNCERTAIN;
    }
    memcpy(name, line + strlen(begin), (size_t)name_len);
    name[name_len] = '\0';

    /* base64 lines up to the END line of the same name, decoded as they
     * are checked, into room for everything up to the next END marker */
    size_t first = next;
    const char *marker = memmem(data + first, len - first, end, strlen(end));
    if (marker == NULL) {
        return PEM_UNCERTAIN;   /* no END line */
    }
    unsigned char *out = OPENSSL_malloc((size_t)(marker - (data + first)) / 4 * 3 + 3);
    if (out == NULL) {
        return PEM_UNCERTAIN;
    }
    long o = 0;
    int padded = 0;
    for (at = first;; at = next) {
        n = at < len ? pem_line(data, len, at, &next) : -1;
        if (n <= 0 || data + at > marker) {
            goto uncertain;   /* a long or blank line (headers), or no END line here */
        }
        line = data + at;
        if (line[0] == '-') {
            if (n != (long)(strlen(end) + strlen(name) + strlen(tail)) || !has_prefix(line, n, end)
                || memcmp(line + strlen(end), name, strlen(name)) != 0
                || memcmp(line + n - strlen(tail), tail, strlen(tail)) != 0 || o == 0) {
                goto uncertain;
            }
            break;
        }
        if (n % 4 != 0 || padded) {
            goto uncertain;   /* only whole groups; padding only at the very end */
        }
        for (long i = 0; i < n; i += 4) {
            const unsigned char *g = (const unsigned char *)line + i;
            int a = b64_value[g[0]], b = b64_value[g[1]], c = b64_value[g[2]], d = b64_value[g[3]];
            if ((a | b | c | d) >= 0) {
                unsigned long v = ((unsigned long)a << 18) | ((unsigned long)b << 12)
                                  | ((unsigned long)c << 6) | (unsigned long)d;
                out[o++] = (unsigned char)(v >> 16);
                out[o++] = (unsigned char)(v >> 8);
                out[o++] = (unsigned char)v;
                continue;
            }
            /* "xx==" or "xxx=", as the line's last group */
            if (i + 4 != n || a < 0 || b < 0 || g[3] != '=' || (c < 0 && g[2] != '=')) {
                goto uncertain;
            }
            unsigned long v = ((unsigned long)a << 18) | ((unsigned long)b << 12)
                              | ((unsigned long)(c < 0 ? 0 : c) << 6);
            out[o++] = (unsigned char)(v >> 16);
            if (c >= 0) {
                out[o++] = (unsigned char)(v >> 8);
            }
            padded = 1;
        }
    }
    *pos = next;
    *body = out;
    *body_len = o;
    return PEM_BLOCK;

uncertain:
    OPENSSL_free(out);
    return PEM_UNCERTAIN;
}

/* One block into the index: 1 indexed or skipped, 0 when the full parser
 * must read the source. */
static int
index_block(tlsctx_lazy_index *index, const char *name, const char *header,
            const unsigned char *body, long body_len, int crls_too)
{
    int is_cert = strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0;
    if (!crls_too && !is_cert && strcmp(name, PEM_STRING_X509_TRUSTED) != 0) {
        return 1;   /* cadata: the stdlib's reader skips blocks of other kinds */
    }
    if (header[0] != '\0') {
        return 0;   /* encrypted or otherwise annotated: the full parser's */
    }
    if (is_cert) {
        return index_certificate(index, body, body_len);
    }
    if (crls_too && strcmp(name, PEM_STRING_X509_CRL) == 0) {
        return index_crl(index, body, body_len);
    }
    return 0;   /* keys, trusted certificates, ...: the full parser's */
}

static unsigned long pem_fast_scans;   /* sources pem_next read whole (tests) */

/* Every block through pem_next; 1 done, 0 the index refused a block, -1
 * uncertain (the index is then left as the caller found it: empty). */
static int
scan_pem_fast(tlsctx_lazy_index *index, const char *data, size_t len, int crls_too)
{
    if (!CRYPTO_THREAD_run_once(&b64_once, b64_setup)) {
        return PEM_UNCERTAIN;
    }
    size_t pos = 0;
    for (;;) {
        char name[PEM_NAME_MAX];
        unsigned char *body = NULL;
        long body_len = 0;
        int rc = pem_next(data, len, &pos, name, &body, &body_len);
        if (rc == PEM_END) {
            __atomic_add_fetch(&pem_fast_scans, 1, __ATOMIC_RELAXED);
            return 1;
        }
        if (rc == PEM_UNCERTAIN) {
            return PEM_UNCERTAIN;
        }
        int ok = index_block(index, name, "", body, body_len, crls_too);
        OPENSSL_free(body);
        if (!ok) {
            return 0;
        }
    }
}

unsigned long
tlsctx_lazy_pem_fast_scans(void)
{
    return __atomic_load_n(&pem_fast_scans, __ATOMIC_RELAXED);
}

static void
index_reset(tlsctx_lazy_index *index)
{
    for (int i = 0; i < index->n; i++) {
        entry_clear(&index->entries[i]);
    }
    index->n = 0;
}

/* Index PEM text: as a CA file (certificates and CRLs) or as PEM cadata
 * (certificates). NULL if it cannot be indexed with certainty. */
static tlsctx_lazy_index *
scan_pem(const char *data, size_t len, int crls_too)
{
    tlsctx_lazy_index *index = OPENSSL_zalloc(sizeof(*index));
    if (index == NULL) {
        return NULL;
    }
    int ok = scan_pem_fast(index, data, len, crls_too);
    if (ok == PEM_UNCERTAIN) {
        index_reset(index);
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        ok = bio != NULL;
        while (ok) {
            char *name = NULL, *header = NULL;
            unsigned char *body = NULL;
            long body_len = 0;
            if (!PEM_read_bio(bio, &name, &header, &body, &body_len)) {
                unsigned long err = ERR_peek_last_error();
                /* the end of the input, as the stdlib's readers see it */
                ok = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
                break;
            }
            ok = index_block(index, name, header, body, body_len, crls_too);
            OPENSSL_free(name);
            OPENSSL_free(header);
            OPENSSL_free(body);
        }
        BIO_free(bio);
    }
    ERR_clear_error();
    index->refs = 1;
    if (!ok || index->n == 0) {
        tlsctx_lazy_index_unref(index);
        return NULL;
    }
    return index;
}

tlsctx_lazy_index *
tlsctx_lazy_index_scan(const char *data, size_t len, enum tlsctx_lazy_kind kind)
{
    switch (kind) {
    case TLSCTX_LAZY_CA_FILE:
        return scan_pem(data, len, 1);
    case TLSCTX_LAZY_CADATA_PEM:
        return scan_pem(data, len, 0);
    }
    return NULL;
}

/* ---- decoding on demand ----------------------------------------------------- */

/* The entry's certificate, decoded once and shared; NULL on failure. */
static X509 *
entry_cert(lazy_entry *entry)
{
    X509 *cert = __atomic_load_n(&entry->cert, __ATOMIC_ACQUIRE);
    if (cert != NULL) {
        return cert;
    }
    const unsigned char *p = entry->der;
    X509 *mine = d2i_X509(NULL, &p, entry->len);
    if (mine == NULL) {
        return NULL;
    }
    X509 *expected = NULL;
    if (__atomic_compare_exchange_n(&entry->cert, &expected, mine, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        return mine;
    }
    X509_free(mine);   /* another thread published it first */
    return expected;
}

STACK_OF(X509_OBJECT) *
tlsctx_lazy_index_objects(tlsctx_lazy_index *index)
{
    STACK_OF(X509_OBJECT) *objects = __atomic_load_n(&index->objects, __ATOMIC_ACQUIRE);
    if (objects != NULL) {
        return objects;
    }
    objects = sk_X509_OBJECT_new_null();
    for (int i = 0; objects != NULL && i < index->n; i++) {
        lazy_entry *entry = &index->entries[i];
        X509_OBJECT *obj = X509_OBJECT_new();
        X509 *cert = entry->crl == NULL ? entry_cert(entry) : NULL;
        int ok = obj != NULL
                 && (entry->crl != NULL ? X509_OBJECT_set1_X509_CRL(obj, entry->crl)
                                        : cert != NULL && X509_OBJECT_set1_X509(obj, cert))
                 && sk_X509_OBJECT_push(objects, obj);
        if (!ok) {
            X509_OBJECT_free(obj);
            sk_X509_OBJECT_pop_free(objects, X509_OBJECT_free);
            objects = NULL;
        }
    }
    if (objects == NULL) {
        return NULL;
    }
    STACK_OF(X509_OBJECT) *expected = NULL;
    if (__atomic_compare_exchange_n(&index->objects, &expected, objects, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        return objects;
    }
    sk_X509_OBJECT_pop_free(objects, X509_OBJECT_free);
    return expected;
}

int
tlsctx_lazy_index_add_crls(tlsctx_lazy_index *index, X509_STORE *store)
{
    for (int i = 0; i < index->n; i++) {
        if (index->entries[i].crl != NULL && !X509_STORE_add_crl(store, index->entries[i].crl)) {
            return 0;
        }
    }
    return 1;
}

int
tlsctx_lazy_index_owns(tlsctx_lazy_index *index, const void *object)
{
    for (int i = 0; i < index->n; i++) {
        const lazy_entry *entry = &index->entries[i];
        if ((entry->crl != NULL && (const void *)entry->crl == object)
            || (entry->crl == NULL
                && (const void *)__atomic_load_n(&entry->cert, __ATOMIC_ACQUIRE) == object)) {
            return 1;
        }
    }
    return 0;
}

/* ---- the lookup --------------------------------------------------------------- */

typedef struct {
    int n;
    tlsctx_lazy_index *indexes[];
} lookup_data;

static void
lookup_free(X509_LOOKUP *lookup)
{
    lookup_data *data = X509_LOOKUP_get_method_data(lookup);
    if (data != NULL) {
        for (int i = 0; i < data->n; i++) {
            tlsctx_lazy_index_unref(data->indexes[i]);
        }
        OPENSSL_free(data);
    }
}

/* Is the entry's subject `name`, as X509_NAME_cmp compares names? */
static int
same_name(const lazy_entry *entry, const X509_NAME *name)
{
    const unsigned char *p = entry->subject;
    X509_NAME *subject = d2i_X509_NAME(NULL, &p, entry->subject_len);
    int same = subject != NULL && X509_NAME_cmp(subject, name) == 0;
    X509_NAME_free(subject);
    return same;
}

/* Add every certificate of `indexes` named `name` (in source order) to the
 * store at once, under its lock (skipping duplicates, as X509_STORE_add_cert
 * does), as a directory lookup adds every file of that name. With `ret`,
 * hand back the first certificate the store then holds under the name,
 * without a reference of its own, as the library's lookups do (the caller
 * takes one; the store keeps it alive). 1 if the name was found. */
static int
add_named(X509_STORE *store, tlsctx_lazy_index *const *indexes, int n, const X509_NAME *name,
          X509_OBJECT *ret)
{
    /* inside a verification: whatever this adds to the error queue goes,
     * and only that */
    ERR_set_mark();
    STACK_OF(X509) *found = sk_X509_new_null();
    if (found == NULL) {
        ERR_pop_to_mark();
        return 0;
    }
    int hashed = 0;
    unsigned long hash = X509_NAME_hash_ex(name, NULL, NULL, &hashed);
    for (int k = 0; k < n; k++) {
        tlsctx_lazy_index *index = indexes[k];
        for (int i = 0; i < index->n; i++) {
            lazy_entry *entry = &index->entries[i];
            if (entry->crl != NULL) {
                continue;
            }
            int known = 0;
            unsigned long entry_hash = hashed ? entry_subject_hash(entry, &known) : 0;
            if ((known && entry_hash != hash) || !same_name(entry, name)) {
                continue;
            }
            X509 *cert = entry_cert(entry);
            if (cert != NULL && !sk_X509_push(found, cert)) {
                sk_X509_free(found);
                ERR_pop_to_mark();
                return 0;
            }
        }
    }
    int rc = 0;
    if (sk_X509_num(found) > 0 && X509_STORE_lock(store)) {
        STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
        rc = 1;
        for (int i = 0; rc && i < sk_X509_num(found); i++) {
            X509_OBJECT *obj = X509_OBJECT_new();
            if (obj == NULL || !X509_OBJECT_set1_X509(obj, sk_X509_value(found, i))) {
                X509_OBJECT_free(obj);
                rc = 0;
            }
            else if (X509_OBJECT_retrieve_match(objects, obj) != NULL) {
                X509_OBJECT_free(obj);   /* a duplicate */
            }
            else if (!sk_X509_OBJECT_push(objects, obj)) {
                X509_OBJECT_free(obj);
                rc = 0;
            }
        }
        if (rc && ret != NULL) {
            X509_OBJECT *first = X509_OBJECT_retrieve_by_subject(objects, X509_LU_X509, name);
            X509 *cert = first != NULL ? X509_OBJECT_get0_X509(first) : NULL;
            rc = cert != NULL && X509_OBJECT_set1_X509(ret, cert);
            if (rc) {
                X509_free(cert);
            }
        }
        X509_STORE_unlock(store);
    }
    sk_X509_free(found);
    ERR_pop_to_mark();
    return rc;
}

/* The lookup's by-subject method. Runs without the GIL, inside
 * verifications. */
static int
lookup_by_subject(X509_LOOKUP *lookup, X509_LOOKUP_TYPE type, const X509_NAME *name,
                  X509_OBJECT *ret)
{
    lookup_data *data = X509_LOOKUP_get_method_data(lookup);
    X509_STORE *store = X509_LOOKUP_get_store(lookup);
    if (type != X509_LU_X509 || data == NULL || store == NULL) {
        return 0;
    }
    return add_named(store, data->indexes, data->n, name, ret);
}

int
tlsctx_lazy_add_named(X509_STORE *store, tlsctx_lazy_index *const *indexes, int n,
                      const X509_NAME *name)
{
    return add_named(store, indexes, n, name, NULL);
}

static X509_LOOKUP_METHOD *lazy_method;

int
tlsctx_lazy_setup(void)
{
    if (lazy_method != NULL) {
        return 0;
    }
    X509_LOOKUP_METHOD *method = X509_LOOKUP_meth_new("tlsctx lazy bundle index");
    if (method == NULL || !X509_LOOKUP_meth_set_free(method, lookup_free)
        || !X509_LOOKUP_meth_set_get_by_subject(method, lookup_by_subject)) {
        X509_LOOKUP_meth_free(method);
        return -1;
    }
    /* process-wide and never freed: stores of any module instance use it */
    X509_LOOKUP_METHOD *expected = NULL;
    if (!__atomic_compare_exchange_n(&lazy_method, &expected, method, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        X509_LOOKUP_meth_free(method);
    }
    return 0;
}

int
tlsctx_lazy_add_lookup(X509_STORE *store, tlsctx_lazy_index *const *indexes, int n)
{
    lookup_data *data = OPENSSL_malloc(sizeof(*data) + (size_t)n * sizeof(data->indexes[0]));
    if (data == NULL) {
        return 0;
    }
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, lazy_method);
    if (lookup == NULL || X509_LOOKUP_get_method_data(lookup) != NULL) {
        OPENSSL_free(data);   /* one lazy lookup per store */
        return 0;
    }
    data->n = n;
    for (int i = 0; i < n; i++) {
        data->indexes[i] = tlsctx_lazy_index_ref(indexes[i]);
    }
    return X509_LOOKUP_set_method_data(lookup, data);
}
