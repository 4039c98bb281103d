"""Load for the capture benchmark: one loopback TCP connection, the client
sends the same small HTTP request in a tight loop (one write syscall each),
a forked reader drains the other end. Bounded by time; prints writes done."""
import os
import socket
import sys
import time

port, seconds, size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
if os.fork() == 0:
    conn, _ = srv.accept()
    while conn.recv(1 << 20):
        pass
    os._exit(0)
cli = socket.create_connection(("127.0.0.1", port))
head = b"POST /load HTTP/1.1\r\nHost: bench\r\nContent-Length: %d\r\n\r\n" % size
msg = head + b"x" * size
writes = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(1000):
        cli.send(msg)
    writes += 1000
cli.close()
os.wait()
print(writes)
