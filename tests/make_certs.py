"""Certificates for the TLS tests, made fresh in DIR at test time.

    python make_certs.py DIR

Writes ca.pem (a test CA), server.pem/server.key (for 127.0.0.1 and localhost,
signed by it), client.pem/client.key (a client certificate signed by it), and
other-ca.pem (an unrelated CA, to prove a wrong CA is refused). Keys are PEM
PKCS#8, unencrypted; every certificate is valid for one day.
"""

import datetime
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def certificate(subject, key, issuer, issuer_key, ca, extensions=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write(dir, stem, cert, key=None):
    (dir / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        (dir / f"{stem}.key").write_bytes(pem)


def main():
    dir = Path(sys.argv[1])
    dir.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("lakeport test CA", ca_key, "lakeport test CA", ca_key, True)
    write(dir, "ca", ca)
    other_key = ec.generate_private_key(ec.SECP256R1())
    write(dir, "other-ca", certificate("another CA", other_key, "another CA", other_key, True))
    server_key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server_usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    write(dir, "server", certificate("localhost", server_key, "lakeport test CA", ca_key, False, [san, server_usage]), server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    write(dir, "client", certificate("lakeport", client_key, "lakeport test CA", ca_key, False, [client_usage]), client_key)


main()
