"""A TLS front for a plaintext server on loopback: the Kafka broker of the tests.

    python tls_proxy.py LISTEN_PORT TARGET_PORT CERT KEY [CLIENT_CA]

Accepts TLS on 127.0.0.1:LISTEN_PORT with CERT/KEY and relays the plaintext to
127.0.0.1:TARGET_PORT. With CLIENT_CA, a client must present a certificate that
CA signed (mutual TLS). tansu 0.6 cannot serve TLS itself: its `--cert` and
`--key` options are declared mutually exclusive, and it needs both.
"""

import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main():
    listen, target, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if len(sys.argv) > 5:
        context.load_verify_locations(sys.argv[5])
        context.verify_mode = ssl.CERT_REQUIRED

    async def serve(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", listen, ssl=context)
    async with server:
        await server.serve_forever()


asyncio.run(main())
