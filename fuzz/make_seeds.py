"""Write the seed corpus for each fuzz target into DIR/<target>/ (generated,
not committed: certificates are made fresh with trustme)."""
import os
import ssl
import sys

import trustme
from cryptography.hazmat.primitives import serialization


def main(out):
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert_pem = leaf.cert_chain_pems[0].bytes()
    key_pem = leaf.private_key_pem.bytes()
    key = serialization.load_pem_private_key(key_pem, None)
    der_cert = ssl.PEM_cert_to_DER_cert(cert_pem.decode())
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"secret"))
    seeds = {
        "cadata_pem": [ca.cert_pem.bytes(), ca.cert_pem.bytes() + cert_pem, cert_pem[:200]],
        "cadata_der": [ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode()), der_cert,
                       der_cert[:100]],
        "cert_chain": [b"\x01" + cert_pem + key_pem, b"\x00" + der_cert, b"\x03" + cert_pem + key_pem,
                       b"\x05" + cert_pem + encrypted, b"\x02" + der_key],
        "ciphers": [b"DEFAULT", b"ECDHE+AESGCM:!aNULL", b"@SECLEVEL=0:ALL", b"TLS_AES_128_GCM_SHA256"],
        "alpn": [b"h2\x00http/1.1", b"spdy/3", b"\x00", b"x" * 300],
    }
    for target, items in seeds.items():
        folder = os.path.join(out, target)
        os.makedirs(folder, exist_ok=True)
        for i, item in enumerate(items):
            with open(os.path.join(folder, "seed%d" % i), "wb") as f:
                f.write(item)


if __name__ == "__main__":
    main(sys.argv[1])
