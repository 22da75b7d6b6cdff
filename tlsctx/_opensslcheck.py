"""Refuse, before the extension loads, an OpenSSL older than the one tlsctx
was built with: the extension may call functions the older library lacks,
and the dynamic loader would only say "undefined symbol".  The versions come
from tlsctx._opensslprobe, a tiny extension built with the same headers and
library that uses nothing newer than OpenSSL 3.0.

tlsctx/__init__.py compares the probe's two numbers itself and loads this
module only when they mismatch, for check()'s message.  It imports nothing
(typing and importlib would cost as much as the rest of tlsctx's import):
the annotations are builtins (3.10+)."""


def split(number: int) -> tuple[int, int, int]:
    """(major, minor, patch) of an OpenSSL 3 version number (0xMNN00PP0)."""
    return (number >> 28) & 0xF, (number >> 20) & 0xFF, (number >> 4) & 0xFF


def mismatch(built: tuple[int, int, int], running: tuple[int, int, int], running_text: str,
             built_text: str | None = None) -> str | None:
    """The ImportError message when `running` is too old for `built`, else None.
    Within OpenSSL 3, a library of the same or a later minor release has
    every function an extension built for this one may call."""
    if running[0] == built[0] and running[1] >= built[1]:
        return None
    built_name = built_text or "OpenSSL %d.%d.%d" % built
    return ("tlsctx was built with %s but is loading %s: it needs OpenSSL %d.%d or newer "
            "(rebuild tlsctx against the OpenSSL it runs with)"
            % (built_name, running_text, built[0], built[1]))


def built_with() -> tuple[int, int, int]:
    return split(_probe().BUILT_NUMBER)


def _probe():  # type: ignore[no-untyped-def]
    from . import _opensslprobe
    return _opensslprobe


def check() -> None:
    """Raise ImportError naming both versions on a mismatch.  Without the
    probe (a build that lacks it) the extension's own import decides."""
    try:
        probe = _probe()
    except ImportError:
        return
    message = mismatch(split(probe.BUILT_NUMBER), split(probe.RUNTIME_NUMBER),
                       probe.RUNTIME_TEXT, probe.BUILT_TEXT)
    if message is not None:
        raise ImportError(message)
