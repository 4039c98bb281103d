// gRPC traffic for recordings: a @grpc/grpc-js server and client in one
// process on loopback — unary calls ten at a time (some answered NOT_FOUND),
// server streams and bidi streams.
// Usage: node dist/bench/load/grpc-traffic.js <port> <unary calls>
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

interface Item {
  name: string;
  n: number;
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 50051);
  const calls = Number(process.argv[3] ?? 1000);
  const def = protoLoader.loadSync(path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'shop.proto'), { defaults: true });
  const Catalog = (grpc.loadPackageDefinition(def) as unknown as { shop: { Catalog: grpc.ServiceClientConstructor } }).shop.Catalog;
  const server = new grpc.Server();
  server.addService(Catalog.service, {
    Get(call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) {
      if (call.request.n % 20 === 19) cb({ code: grpc.status.NOT_FOUND, details: `no ${call.request.name}` });
      else cb(null, { name: `item ${call.request.name}`, n: call.request.n });
    },
    Watch(call: grpc.ServerWritableStream<Item, Item>) {
      for (let i = 0; i < call.request.n; i++) call.write({ name: 'tick', n: i });
      call.end();
    },
    Chat(call: grpc.ServerDuplexStream<Item, Item>) {
      call.on('data', (m: Item) => call.write(m));
      call.on('end', () => call.end());
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  type Client = grpc.Client & {
    Get(req: Item, cb: (err: grpc.ServiceError | null) => void): void;
    Watch(req: Item): grpc.ClientReadableStream<Item>;
    Chat(): grpc.ClientDuplexStream<Item, Item>;
  };
  const client = new Catalog(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
  for (let i = 0; i < calls; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, calls - i) }, (_, k) => new Promise<void>((resolve) => client.Get({ name: `sku-${i + k}`, n: i + k }, () => resolve()))),
    );
  }
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve, reject) => {
      const call = client.Watch({ name: 'feed', n: 50 });
      call.on('data', () => {});
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      const call = client.Chat();
      call.on('data', () => {});
      call.on('error', reject);
      call.on('end', () => resolve());
      for (let k = 0; k < 10; k++) call.write({ name: 'm', n: k });
      call.end();
    });
  }
  client.close();
  server.forceShutdown();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
