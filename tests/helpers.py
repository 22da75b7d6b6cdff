"""Helpers shared by the test modules: run the same call on tlsctx and the
stdlib and compare what comes out."""
import re
import ssl
import sys
import warnings

import tlsctx

# Both libraries end SSLError messages with "(source file:line)".
_LOCATION = re.compile(r" \([A-Za-z_0-9]+\.c:\d+\)$")

SAME_OPENSSL = ssl.OPENSSL_VERSION_NUMBER == tlsctx.OPENSSL_VERSION_NUMBER


# CPython 3.14+ name the code of an error OpenSSL has no text for,
# "unknown error (0x...)", as tlsctx does everywhere; older stdlibs say
# "unknown error" (DOCUMENTED_DIFFERENCES["unknown error"] in test_parity).
UNKNOWN_ERROR_CODE_FROM = (3, 14)
_UNKNOWN_CODE = re.compile(r"^unknown error \(0x[0-9a-f]+\)$")


# Differences that a CPython bug-fix release removed: name -> ({minor: first
# agreeing release of that minor}, what differs).  Minors not listed agree.
# (docs/differences.md; test_parity.DOCUMENTED_DIFFERENCES has the rest.)
PATCH_DIFFERENCES = {
    "fresh_context.options": (
        {(3, 10): (3, 10, 11), (3, 11): (3, 11, 3)},
        "fresh contexts set OP_IGNORE_UNEXPECTED_EOF (until gh-95494), which hides "
        "truncation: a peer's missing close_notify reads as a clean end of data"),
}


def differs_in_this_release(name):
    first = PATCH_DIFFERENCES[name][0].get(sys.version_info[:2])
    return first is not None and sys.version_info[:3] < first


def newest_defaults(ctx):
    """A stdlib context as the newest stdlib makes it: the fresh-context
    default an older bug-fix release still had is undone.  Tests compare
    tlsctx with stdlib contexts passed through this."""
    if differs_in_this_release("fresh_context.options"):
        ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    return ctx


def strip_location(message):
    """The message without the source location, and with tlsctx's module
    path in type names spelled as the stdlib's."""
    text = _LOCATION.sub("", str(message)).replace("tlsctx._tlsctx.", "_ssl.")
    if sys.version_info[:2] < UNKNOWN_ERROR_CODE_FROM:
        text = _UNKNOWN_CODE.sub("unknown error", text)
    return text


def outcome(func, *args, **kwargs):
    """What calling func did: ('ok', value) or ('raise', type name, message,
    library, reason, errno), with warnings recorded as (category, message)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", func(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome
            result = ("raise", exception_kind(exc), message_of(exc),
                      getattr(exc, "library", None), getattr(exc, "reason", None),
                      getattr(exc, "errno", None))
    return result, [(w.category.__name__, str(w.message)) for w in caught]


def message_of(exc):
    """The message to compare.  OSErrors from loading files compare by errno
    and strerror: tlsctx also names the file (docs/differences.md)."""
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.strerror:
        return exc.strerror
    return strip_location(exc)


def exception_kind(exc):
    """The exception's class name, with tlsctx's and ssl's SSLError family
    (same names, different modules) compared by name."""
    return type(exc).__name__


def assert_same(tls_func, std_func, *args, **kwargs):
    """Call both with the same arguments; the outcomes must be equal."""
    mine = outcome(tls_func, *args, **kwargs)
    theirs = outcome(std_func, *args, **kwargs)
    assert mine == theirs
    return mine
