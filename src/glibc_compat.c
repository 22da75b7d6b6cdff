/* Compiled only into builds that link Debian trixie's libcrypto.a: setup.py
 * adds it when TLSCTX_OPENSSL_STATIC=1 on a glibc older than 2.38, and
 * tools/build_wheels.py always (its wheels are linked on glibc 2.31).
 *
 * OpenSSL built on glibc >= 2.38 with C23 headers calls __isoc23_strtol,
 * glibc 2.38's strtol that also accepts a "0b"/"0B" binary prefix when the
 * base is 0 or 2. Older glibc lacks the symbol: supply it here, hidden so
 * that it stays private to the extension like the static OpenSSL itself. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

__attribute__((visibility("hidden"))) long
__isoc23_strtol(const char *nptr, char **endptr, int base);

long
__isoc23_strtol(const char *nptr, char **endptr, int base)
{
    const char *p = nptr;
    while (isspace((unsigned char)*p)) {
        p++;
    }
    int negative = 0;
    if (*p == '+' || *p == '-') {
        negative = *p == '-';
        p++;
    }
    /* only the binary prefix is new in C23; everything else is C99 strtol */
    if (!((base == 0 || base == 2) && p[0] == '0' && (p[1] == 'b' || p[1] == 'B')
          && (p[2] == '0' || p[2] == '1'))) {
        return strtol(nptr, endptr, base);
    }
    p += 2;
    unsigned long limit = negative ? (unsigned long)LONG_MAX + 1UL : (unsigned long)LONG_MAX;
    unsigned long value = 0;
    int overflow = 0;
    for (; *p == '0' || *p == '1'; p++) {
        if (value > (limit - (unsigned long)(*p - '0')) / 2) {
            overflow = 1;
        }
        else {
            value = value * 2 + (unsigned long)(*p - '0');
        }
    }
    if (endptr != NULL) {
        *endptr = (char *)p;
    }
    if (overflow) {
        errno = ERANGE;
        return negative ? LONG_MIN : LONG_MAX;
    }
    if (negative) {
        return value == (unsigned long)LONG_MAX + 1UL ? LONG_MIN : -(long)value;
    }
    return (long)value;
}
