// The gRPC service of test/fixtures/shop.proto, for end-to-end tests that run
// a real @grpc/grpc-js server and client.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT } from './agent';

export interface Item {
  name: string;
  n: number;
}

export type Unary = (req: Item, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Item) => void) => grpc.ClientUnaryCall;

export function loadCatalog(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(path.join(ROOT, 'test', 'fixtures', 'shop.proto'), { defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { shop: { Catalog: grpc.ServiceClientConstructor } };
  return pkg.shop.Catalog;
}
