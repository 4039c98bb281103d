# Times SSL_write + SSL_read pairs (Python's ssl module: SSL_write_ex and
# SSL_read_ex in the system libssl) between two SSL objects joined by memory
# BIOs, so only the TLS library's work is timed, not a network.
# Usage: python3 tls_loop.py CERT KEY ITERATIONS SIZE...  -> JSON {size: ns per pair}
import json, ssl, sys, time

cert, key, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
sizes = [int(s) for s in sys.argv[4:]]

sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(cert, key)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE

def pair():
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = cctx.wrap_bio(cin, cout, server_side=False)
    s = sctx.wrap_bio(sin, sout, server_side=True)
    for _ in range(10):
        for obj in (c, s):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        sin.write(cout.read())
        cin.write(sout.read())
    return c, s, cout, sin

out = {}
for size in sizes:
    c, s, cout, sin = pair()
    msg = b'x' * size
    for _ in range(1000):  # warm
        c.write(msg); sin.write(cout.read()); s.read(size)
    t0 = time.perf_counter_ns()
    for _ in range(iterations):
        c.write(msg)
        sin.write(cout.read())
        s.read(size)
    out[str(size)] = (time.perf_counter_ns() - t0) / iterations
print(json.dumps(out))
