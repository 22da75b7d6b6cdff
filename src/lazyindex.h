/* The lazy trust index (lazyindex.c): a bundle's certificates as DER, keyed
 * by subject name, decoded when a verification first asks for the name. */
#ifndef TLSCTX_LAZYINDEX_H
#define TLSCTX_LAZYINDEX_H

#include <openssl/x509.h>

typedef struct tlsctx_lazy_index tlsctx_lazy_index;

enum tlsctx_lazy_kind { TLSCTX_LAZY_CA_FILE, TLSCTX_LAZY_CADATA_PEM };

/* Index a source, or NULL when it cannot be indexed with certainty (the
 * caller then parses it fully). Leaves the error queue empty; no GIL needed. */
tlsctx_lazy_index *tlsctx_lazy_index_scan(const char *data, size_t len,
                                          enum tlsctx_lazy_kind kind);
tlsctx_lazy_index *tlsctx_lazy_index_ref(tlsctx_lazy_index *index);
void tlsctx_lazy_index_unref(tlsctx_lazy_index *index);
/* Every object in source order, decoded once and kept; NULL on failure. */
STACK_OF(X509_OBJECT) *tlsctx_lazy_index_objects(tlsctx_lazy_index *index);
int tlsctx_lazy_index_add_crls(tlsctx_lazy_index *index, X509_STORE *store);
/* Is `object` (an X509 or X509_CRL) one this index decoded? */
int tlsctx_lazy_index_owns(tlsctx_lazy_index *index, const void *object);
/* How many sources the one-pass PEM reader has read whole (for tests). */
unsigned long tlsctx_lazy_pem_fast_scans(void);
/* Once per process, before the first add_lookup. */
int tlsctx_lazy_setup(void);
/* The store's lookup over `indexes` (in order); 1 on success. */
int tlsctx_lazy_add_lookup(X509_STORE *store, tlsctx_lazy_index *const *indexes, int n);
/* Add every certificate of `indexes` named `name` to the store now (what
 * the lookup does on a miss); 1 if there was one, 0 otherwise. */
int tlsctx_lazy_add_named(X509_STORE *store, tlsctx_lazy_index *const *indexes, int n,
                          const X509_NAME *name);

#endif
