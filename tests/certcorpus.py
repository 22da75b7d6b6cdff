"""A certificate corpus made at test time with `cryptography`.

Every certificate shape the stdlib's certificate decoding distinguishes is
here: names (multi-valued RDNs, every string type with non-ASCII values,
unknown and very long OIDs, emailAddress, domainComponent), serials (tiny,
20-byte, high bit set, zero, negative, longer than OpenSSL prints on one
line), validity (UTCTime, GeneralizedTime, far past, far future, fractional
seconds, garbage), every subjectAltName kind (and malformed ones), AIA and
CRL distribution points, CA and non-CA certificates, version 1 certificates,
and a CRL.

What cryptography refuses to build (a zero or negative serial, a version 1
certificate, a bad time) is made by editing the DER of a certificate it did
build and signing it again; extensions are written as raw DER when their
content must be odd.  Nothing is written to disk except by the callers.
"""
import datetime
import functools
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
LATER = datetime.datetime(2034, 6, 1, 12, 0, 0, tzinfo=UTC)

# ---- a little DER, for what cryptography will not build ------------------


def der_tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def der_read(data, pos=0):
    """(tag, content, end) of the TLV at data[pos:]."""
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def der_children(content):
    """The complete TLVs inside a constructed value's content."""
    items, pos = [], 0
    while pos < len(content):
        _, _, end = der_read(content, pos)
        items.append(content[pos:end])
        pos = end
    return items


def der_seq(*items):
    return der_tlv(0x30, b"".join(items))


def der_oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return der_tlv(0x06, bytes(body))


def der_integer(value):
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return der_tlv(0x02, value.to_bytes(size, "big", signed=True))


def ia5(tag, text):
    """A context-tagged IA5String-like general name (raw bytes allowed)."""
    return der_tlv(tag, text if isinstance(text, bytes) else text.encode("ascii"))


# ---- keys and building ---------------------------------------------------


@functools.lru_cache(maxsize=None)
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


def name(*rdns):
    """A Name from RDNs given as lists of (oid, value[, asn1 type])."""
    result = []
    for rdn in rdns:
        attributes = []
        for attr in rdn:
            oid, value = attr[0], attr[1]
            kwargs = {"_type": attr[2]} if len(attr) > 2 else {}
            attributes.append(x509.NameAttribute(oid, value, **kwargs))
        result.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(result)


def cn(text):
    return name([(NameOID.COMMON_NAME, text)])


def build(subject, issuer=None, serial=0x1234, not_before=NOW, not_after=LATER,
          ca=True, extensions=()):
    """DER of a certificate signed by the corpus key."""
    key = signing_key()
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer if issuer is not None else subject)
               .public_key(key.public_key())
               .serial_number(serial)
               .not_valid_before(not_before)
               .not_valid_after(not_after))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                                        critical=True)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


def resign(der, edit_tbs):
    """Edit the TBSCertificate's fields (a list of TLVs) and sign again."""
    _, cert_content, _ = der_read(der)
    tbs, sig_alg, _ = der_children(cert_content)
    _, tbs_content, _ = der_read(tbs)
    fields = der_children(tbs_content)
    new_tbs = der_seq(*edit_tbs(fields))
    signature = signing_key().sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_seq(new_tbs, sig_alg, der_tlv(0x03, b"\x00" + signature))


def with_serial(der, raw_integer_tlv):
    # fields: [0] version, serial, signature alg, issuer, validity, subject, spki, [3] exts
    def edit(fields):
        fields[1] = raw_integer_tlv
        return fields
    return resign(der, edit)


def with_validity(der, not_before_tlv, not_after_tlv):
    def edit(fields):
        fields[4] = der_seq(not_before_tlv, not_after_tlv)
        return fields
    return resign(der, edit)


def as_version1(der):
    """The same certificate without version and extensions (X.509 v1)."""
    def edit(fields):
        return [f for f in fields if f[0] not in (0xA0, 0xA3)]
    return resign(der, edit)


def with_subject(der, subject_der):
    def edit(fields):
        fields[5] = subject_der
        return fields
    return resign(der, edit)


def der_name(*rdns):
    """A Name in DER from RDNs given as lists of (dotted oid, string tag, raw bytes):
    for OIDs and string contents cryptography refuses."""
    return der_seq(*(der_tlv(0x31, b"".join(der_seq(der_oid(oid), der_tlv(tag, value))
                                            for oid, tag, value in rdn))
                     for rdn in rdns))


def raw_extension(oid, value_der):
    return x509.UnrecognizedExtension(ObjectIdentifier(oid), value_der)


# ---- the corpus ----------------------------------------------------------

SAN = ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string
AIA = ExtensionOID.AUTHORITY_INFORMATION_ACCESS.dotted_string
CRLDP = ExtensionOID.CRL_DISTRIBUTION_POINTS.dotted_string
OCSP_METHOD = "1.3.6.1.5.5.7.48.1"
CA_ISSUERS_METHOD = "1.3.6.1.5.5.7.48.2"
LONG_OID = "1.3.6.1.4.1." + ".".join(["987654321"] * 30)   # > 256 characters


def _names_corpus():
    yield "cn_only", build(cn("Corpus Root CA"))
    yield "empty_subject", build(x509.Name([]), issuer=cn("Corpus Issuer"))
    yield "full_subject", build(name(
        [(NameOID.DOMAIN_COMPONENT, "org")],
        [(NameOID.DOMAIN_COMPONENT, "example")],
        [(NameOID.COUNTRY_NAME, "DE")],
        [(NameOID.STATE_OR_PROVINCE_NAME, "Bayern")],
        [(NameOID.LOCALITY_NAME, "München")],
        [(NameOID.ORGANIZATION_NAME, "Example & Söhne GmbH")],
        [(NameOID.ORGANIZATIONAL_UNIT_NAME, "PKI")],
        [(NameOID.ORGANIZATIONAL_UNIT_NAME, "Second OU")],
        [(NameOID.COMMON_NAME, "Full Subject CA")],
        [(NameOID.EMAIL_ADDRESS, "pki@example.org")],
        [(NameOID.SERIAL_NUMBER, "12345")],
        [(NameOID.TITLE, "Root")],
        [(NameOID.GIVEN_NAME, "Ada")],
        [(NameOID.SURNAME, "Lovelace")],
        [(NameOID.USER_ID, "uid-1")],
        [(NameOID.BUSINESS_CATEGORY, "Private Organization")],
        [(NameOID.JURISDICTION_COUNTRY_NAME, "DE")],
        [(NameOID.POSTAL_CODE, "80331")],
        [(NameOID.STREET_ADDRESS, "Marienplatz 1")],
    ), issuer=cn("Other Issuer"))
    yield "multi_valued_rdn", build(name(
        [(NameOID.COUNTRY_NAME, "US")],
        [(NameOID.ORGANIZATION_NAME, "Multi"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "Valued"),
         (NameOID.COMMON_NAME, "RDN CA")],
        [(NameOID.DOMAIN_COMPONENT, "a"), (NameOID.DOMAIN_COMPONENT, "b")],
        [(NameOID.EMAIL_ADDRESS, "x@example.com")],
    ))
    yield "string_types", build(name(
        [(NameOID.COMMON_NAME, "UTF8 Zürich 日本 \U0001F510", _ASN1Type.UTF8String)],
        [(NameOID.ORGANIZATION_NAME, "BMP Ωmega €", _ASN1Type.BMPString)],
        [(NameOID.ORGANIZATIONAL_UNIT_NAME, "T61 café", _ASN1Type.T61String)],
        [(NameOID.LOCALITY_NAME, "Universal ßtraße \U0001F600", _ASN1Type.UniversalString)],
        [(NameOID.STATE_OR_PROVINCE_NAME, "Printable 123", _ASN1Type.PrintableString)],
        [(NameOID.STREET_ADDRESS, "IA5 text", _ASN1Type.IA5String)],
        [(NameOID.SERIAL_NUMBER, "0123456789", _ASN1Type.NumericString)],
    ), issuer=name([(NameOID.COMMON_NAME, "Issuer Ünïcödé", _ASN1Type.BMPString)]))
    yield "unknown_oids", build(name(
        [(ObjectIdentifier("1.2.3.4.5.6.7"), "unknown attribute")],
        [(ObjectIdentifier("2.25.329800735698586629295641978511506172918"), "uuid arc")],
        [(NameOID.COMMON_NAME, "Unknown OID CA")],
    ))
    base = build(cn("Raw Name CA"))
    yield "long_oid_attribute", with_subject(base, der_name(
        [(LONG_OID, 0x0C, b"very long oid")],
        [("2.5.4.3", 0x0C, b"Long OID CA")],
    ))
    yield "name_odd_strings", with_subject(base, der_name(
        [("2.5.4.3", 0x0C, b"nul\x00inside")],
        [("2.5.4.10", 0x14, b"T61 \xe9\xff raw")],          # T61 is read as Latin-1
        [("2.5.4.11", 0x0C, b"")],                         # empty value
        [("0.9.2342.19200300.100.1.25", 0x16, b"dc")],
        [("1.2.840.113549.1.9.1", 0x16, b"e@x.org"), ("2.5.4.3", 0x13, b"Same Set")],
    ))
    yield "name_bad_utf8", with_subject(base, der_name(
        [("2.5.4.3", 0x0C, b"bad \xff utf8")],
    ))
    # OpenSSL refuses these names while parsing: the certificates never load
    yield "name_visible_string", build(name(
        [(NameOID.COMMON_NAME, "Visible text", _ASN1Type.VisibleString)]))
    yield "name_bad_bmp", with_subject(base, der_name(
        [("2.5.4.3", 0x1E, b"\x00A\x00")],                 # odd length BMPString
    ))


def _serial_corpus():
    base = build(cn("Serial CA"))
    yield "serial_one", build(cn("Serial One CA"), serial=1)
    yield "serial_max_20_bytes", build(cn("Serial Max CA"), serial=2 ** 159 - 1)
    yield "serial_high_bit", build(cn("Serial High Bit CA"), serial=0x80 << 64)
    yield "serial_zero", with_serial(base, der_integer(0))
    yield "serial_negative", with_serial(base, der_integer(-0x1234567))
    # i2a_ASN1_INTEGER breaks lines every 35 bytes: the stdlib keeps the first
    yield "serial_72_bytes", with_serial(base, der_integer(2 ** 575 + 12345))


def _utctime(text):
    return der_tlv(0x17, text.encode("ascii"))


def _gentime(text):
    return der_tlv(0x18, text.encode("ascii"))


def _time_corpus():
    def at(*args):
        return datetime.datetime(*args, tzinfo=UTC)
    yield "utctime_1950", build(cn("UTCTime 1950 CA"), not_before=at(1950, 1, 1),
                                not_after=at(2049, 12, 31, 23, 59, 59))
    yield "generalized_2050", build(cn("GeneralizedTime CA"), not_before=at(2050, 1, 1),
                                    not_after=at(2051, 2, 3, 4, 5, 6))
    base = build(cn("Odd Times CA"))
    # cryptography refuses dates before 1950: written by hand
    yield "generalized_1949", with_validity(base, _gentime("19491231235959Z"),
                                            _utctime("491231235959Z"))
    yield "far_past_far_future", with_validity(base, _gentime("00010101000000Z"),
                                               _gentime("99991231235959Z"))
    yield "single_digit_day", build(cn("Single Day CA"), not_before=at(2021, 3, 5, 1, 2, 3),
                                    not_after=at(2031, 11, 9, 23, 0, 0))
    yield "fractional_seconds", with_validity(base, _gentime("20240101000000.123Z"),
                                              _gentime("20991231235959.5Z"))
    yield "utctime_no_seconds", with_validity(base, _utctime("2401010000Z"),
                                              _utctime("3401010000Z"))
    yield "bad_times", with_validity(base, _utctime("garbage!!!!!Z"), _gentime("20241301000000Z"))


def _san(*general_names):
    return raw_extension(SAN, der_seq(*general_names))


def _san_corpus():
    directory = name(
        [(NameOID.COUNTRY_NAME, "FR")],
        [(NameOID.ORGANIZATION_NAME, "Dir"), (NameOID.COMMON_NAME, "Name é")],
    )
    yield "san_all_kinds", build(cn("SAN CA"), extensions=[x509.SubjectAlternativeName([
        x509.DNSName("example.org"),
        x509.DNSName("*.example.org"),
        x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
        x509.IPAddress(ipaddress.ip_address("0.0.0.0")),
        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.IPAddress(ipaddress.ip_address("fe80:abcd:ef01:2345:6789:abcd:ef01:2345")),
        x509.RFC822Name("user@example.org"),
        x509.UniformResourceIdentifier("https://example.org/path?q=1"),
        x509.DirectoryName(directory),
        x509.RegisteredID(ObjectIdentifier("1.2.3.4")),
        x509.RegisteredID(ObjectIdentifier("1.3.6.1.5.5.7.3.1")),
        x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                       der_tlv(0x0C, "upn@example.org".encode())),
        x509.OtherName(ObjectIdentifier("1.2.3.4.5"), der_tlv(0x0C, b"opaque")),
        x509.OtherName(ObjectIdentifier("1.3.6.1.5.5.7.8.9"), der_tlv(0x0C, "smtp@ex.org".encode())),
        x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")),     # 8 bytes: "<invalid>"
    ])])
    yield "san_raw_kinds", build(cn("Raw SAN CA"), extensions=[_san(
        # x400Address [3] and ediPartyName [5]: printed by OpenSSL
        der_tlv(0xA3, der_seq()),
        der_tlv(0xA5, der_tlv(0xA1, der_tlv(0x0C, b"party"))),
        ia5(0x82, b"nul\x00inside.example"),          # dNSName with a NUL byte
        ia5(0x81, b"mail\x00nul@example.org"),
        ia5(0x86, b"https://nul.example/\x00x"),
        der_tlv(0x87, b"\x01\x02\x03"),                 # 3-byte IP: "<invalid>"
        der_tlv(0x87, b""),
        der_tlv(0x88, der_read(der_oid(LONG_OID))[1]),  # a long registered ID
    )])
    yield "san_empty_sequence", build(cn("Empty SAN CA"), extensions=[_san()])
    yield "san_malformed", build(cn("Malformed SAN CA"),
                                 extensions=[raw_extension(SAN, b"\x30\x05\x82\x03ab")])
    yield "san_only_unreadable_utf8", build(cn("Bad UTF-8 SAN CA"), extensions=[_san(
        ia5(0x82, b"bad\xffutf8.example"),
    )])


def _aia(*descriptions):
    return raw_extension(AIA, der_seq(*descriptions))


def _access(method, general_name):
    return der_seq(der_oid(method), general_name)


def _info_corpus():
    yield "aia_and_crldp", build(cn("AIA CA"), extensions=[
        x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://ocsp.example.org")),
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier("http://ca.example.org/ca.crt")),
            x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://ocsp2.example.org")),
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.DNSName("not-a-uri.example.org")),
        ]),
        x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.example.org/a.crl"),
                                    x509.DNSName("skipped.example.org"),
                                    x509.UniformResourceIdentifier("ldap://crl.example.org/b")],
                                   None, None, None),
            x509.DistributionPoint(None, x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.COMMON_NAME, "relative")]), None, None),
            x509.DistributionPoint(None, None, frozenset([x509.ReasonFlags.key_compromise]),
                                   [x509.DirectoryName(cn("CRL Issuer"))]),
            x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl2.example.org/c.crl")],
                                   None, None, None),
        ]),
    ])
    yield "aia_ca_issuers_only", build(cn("AIA Issuers CA"), extensions=[_aia(
        _access(CA_ISSUERS_METHOD, ia5(0x86, "http://issuers.example.org/only.p7c")),
        _access("1.3.6.1.5.5.7.48.5", ia5(0x86, "http://repository.example.org")),
    )])
    yield "aia_no_uris", build(cn("AIA No URI CA"), extensions=[_aia(
        _access(OCSP_METHOD, ia5(0x82, "ocsp.example.org")),
    )])
    yield "aia_empty", build(cn("AIA Empty CA"), extensions=[_aia()])
    yield "crldp_no_uris", build(cn("CRLDP No URI CA"), extensions=[x509.CRLDistributionPoints([
        x509.DistributionPoint(None, x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.COMMON_NAME, "relative only")]), None, None),
    ])])
    yield "crldp_empty", build(cn("CRLDP Empty CA"),
                               extensions=[raw_extension(CRLDP, der_seq())])


def _ca_corpus():
    key_cert_sign = x509.KeyUsage(digital_signature=False, content_commitment=False,
                                  key_encipherment=False, data_encipherment=False,
                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                  encipher_only=False, decipher_only=False)
    digital = x509.KeyUsage(digital_signature=True, content_commitment=False,
                            key_encipherment=False, data_encipherment=False,
                            key_agreement=False, key_cert_sign=False, crl_sign=False,
                            encipher_only=False, decipher_only=False)
    yield "end_entity", build(cn("leaf.example.org"), issuer=cn("Corpus Root CA"), ca=False,
                              extensions=[x509.SubjectAlternativeName(
                                  [x509.DNSName("leaf.example.org")])])
    yield "no_basic_constraints", build(cn("No BC"), ca=None)
    yield "key_cert_sign_only", build(cn("KeyCertSign Only"), ca=None, extensions=[key_cert_sign])
    yield "ca_false_key_cert_sign", build(cn("CA false but keyCertSign"), ca=False,
                                          extensions=[key_cert_sign])
    yield "ca_digital_signature", build(cn("CA with digitalSignature"), extensions=[digital])
    yield "intermediate", build(cn("Corpus Intermediate CA"), issuer=cn("Corpus Root CA"))
    yield "v1_self_signed", as_version1(build(cn("Version One Root")))
    yield "v1_not_self_signed", as_version1(build(cn("Version One Leaf"),
                                                  issuer=cn("Version One Root")))


@functools.lru_cache(maxsize=None)
def corpus():
    """{name: DER} for the whole corpus, in a fixed order."""
    items = {}
    for part in (_names_corpus, _serial_corpus, _time_corpus, _san_corpus, _info_corpus,
                 _ca_corpus):
        for key, der in part():
            assert key not in items, key
            items[key] = der
    return items


# Certificates that fail to load or to decode (in the stdlib too): they are
# compared one by one, and kept out of the bundles listed as a whole.
RAISING = {"san_only_unreadable_utf8", "name_bad_utf8", "name_bad_bmp", "name_visible_string"}


@functools.lru_cache(maxsize=None)
def refused_by_stdlib():
    """The corpus certificates the running stdlib's OpenSSL refuses to load.

    This depends on the OpenSSL: 3.5+ refuses a UTCTime without seconds
    (``utctime_no_seconds``) that 3.0 accepts.  Tests compare tlsctx with the
    stdlib on these (both must refuse them alike) and leave them out of the
    bundles that must load."""
    import ssl
    refused = set()
    for key, der in corpus().items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_verify_locations(cadata=der)
        except ssl.SSLError:
            refused.add(key)
    return frozenset(refused)


@functools.lru_cache(maxsize=None)
def crl_pem():
    key = signing_key()
    crl = (x509.CertificateRevocationListBuilder()
           .issuer_name(cn("Corpus Root CA"))
           .last_update(NOW)
           .next_update(LATER)
           .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                    .serial_number(77).revocation_date(NOW).build())
           .sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def pem(der):
    """PEM text of a DER certificate (written here, not with the code under test)."""
    import base64
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def split_pem_bundle(path):
    """The DER certificates of a PEM bundle file, in file order."""
    import base64
    with open(path, encoding="ascii", errors="replace") as f:
        text = f.read()
    certs = []
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    pos = 0
    while True:
        start = text.find(begin, pos)
        if start < 0:
            return certs
        stop = text.index(end, start)
        certs.append(base64.b64decode("".join(text[start + len(begin):stop].split())))
        pos = stop + len(end)
