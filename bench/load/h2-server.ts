// An HTTP/2 server that batches: Node answers every stream that arrived in
// one read with one writev, so under h2load's concurrent streams each write
// holds many responses. Usage: node h2-server.js PORT BODY_BYTES
import http2 from 'node:http2';

const [port, bodyBytes] = process.argv.slice(2).map(Number);
const body = Buffer.alloc(bodyBytes!, 'x');
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' });
  stream.end(body);
});
server.listen(port, '127.0.0.1');
