// An HTTP/1.1 server that batches: under pipelined requests Node queues each
// response on the socket while the last write is pending and sends the queue
// in one writev, so each write holds many responses. Usage: node
// h1-server.js PORT BODY_BYTES
import http from 'node:http';

const [port, bodyBytes] = process.argv.slice(2).map(Number);
const body = Buffer.alloc(bodyBytes!, 'x');
http
  .createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  })
  .listen(port, '127.0.0.1');
