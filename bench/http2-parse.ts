// HTTP/2 frames and gRPC calls parsed per second on one core. The bytes are
// real: a @grpc/grpc-js client and server talk through a recording TCP relay
// (so HPACK uses Huffman and the dynamic table as in production), then the
// recording is replayed through the parser (frames, HPACK, streams, gRPC
// message counting) many times. Nothing else runs during the replay.
// Usage: node dist/bench/http2-parse.js [calls] [rounds]
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Http2Session, newHttp2Stats, type Side } from '../src/protocols/http2';

interface Chunk {
  side: Side;
  bytes: Buffer;
}

interface Item {
  name: string;
  n: number;
}

type Unary = (req: Item, cb: (err: grpc.ServiceError | null, res?: Item) => void) => void;

async function record(calls: number): Promise<Chunk[]> {
  const def = protoLoader.loadSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'shop.proto'), { defaults: true });
  const Catalog = (grpc.loadPackageDefinition(def) as unknown as { shop: { Catalog: grpc.ServiceClientConstructor } }).shop.Catalog;
  const server = new grpc.Server();
  server.addService(Catalog.service, {
    Get: (call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) => cb(null, { name: `item ${call.request.name}`, n: call.request.n }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const chunks: Chunk[] = [];
  // Side 1 is the client's bytes (ingress at the server), side 0 the server's.
  const relay = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    down.on('data', (d: Buffer) => {
      chunks.push({ side: 1, bytes: d });
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      chunks.push({ side: 0, bytes: d });
      down.write(d);
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const relayPort = (relay.address() as net.AddressInfo).port;
  const client = new Catalog(`127.0.0.1:${relayPort}`, grpc.credentials.createInsecure()) as unknown as { Get: Unary; close(): void };
  // Ten calls in flight at a time: concurrent streams, as a busy channel has.
  for (let i = 0; i < calls; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, calls - i) }, (_, k) =>
        new Promise<void>((resolve, reject) => client.Get({ name: `sku-${i + k}`, n: i + k }, (err) => (err ? reject(err) : resolve()))),
      ),
    );
  }
  client.close();
  server.forceShutdown();
  relay.close();
  return chunks;
}

function replay(chunks: Chunk[]): { frames: number; calls: number } {
  const stats = newHttp2Stats();
  let calls = 0;
  const session = new Http2Session<undefined>(
    {
      transaction: (tx) => {
        if (tx.grpc?.statusCode === 0) calls++;
      },
    },
    stats,
    { clientSide: 1, complete: true, synced: [true, true] },
  );
  for (const c of chunks) session.push(c.side, c.bytes, 0n, true);
  return { frames: stats.frames.frames, calls };
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 50);
  const chunks = await record(calls);
  const bytes = chunks.reduce((n, c) => n + c.bytes.length, 0);
  const check = replay(chunks);
  if (check.calls !== calls) throw new Error(`recording holds ${check.calls} complete calls, expected ${calls}`);
  for (let i = 0; i < 5; i++) replay(chunks); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let frames = 0;
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    const out = replay(chunks);
    frames += out.frames;
    done += out.calls;
  }
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const result = {
    recording: { calls, chunks: chunks.length, bytes, framesPerReplay: check.frames },
    rounds,
    framesPerCpuSecond: Math.round(frames / cpuS),
    grpcCallsPerCpuSecond: Math.round(done / cpuS),
    megabytesPerCpuSecond: +((bytes * rounds) / cpuS / 1e6).toFixed(1),
    wallSeconds: +wallS.toFixed(2),
    cpuSeconds: +cpuS.toFixed(2),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
