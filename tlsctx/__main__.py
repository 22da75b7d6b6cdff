"""python -m tlsctx: which tlsctx, interpreter and OpenSSL are in use."""
import ssl
import sys

import tlsctx


def main():
    api = ".".join(str(part) for part in tlsctx._OPENSSL_API_VERSION[:2])
    print("tlsctx %s (%s)" % (tlsctx.__version__, tlsctx.__file__))
    print("python %s" % sys.version.split()[0])
    print("tlsctx OpenSSL: %s (built against %s headers)" % (tlsctx.OPENSSL_VERSION, api))
    print("stdlib OpenSSL: %s" % ssl.OPENSSL_VERSION)


if __name__ == "__main__":
    main()
