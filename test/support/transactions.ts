// Two fully populated transactions (an nginx server span, a python client
// span with a parent) for the export tests to vary.
import type { HttpTransaction } from '../../src/transactions/transaction';

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const SPAN_ID = '00f067aa0ba902b7';
export const PARENT_ID = 'b7ad6b7169203331';

export const serverTx: HttpTransaction = {
  kind: 'http',
  role: 'server',
  protocol: 'HTTP/1.1',
  tls: false,
  pid: 42,
  process: 'nginx',
  method: 'GET',
  target: '/users/42?token=abc&flag&page=2',
  host: 'api.example.com:8443',
  userAgent: 'curl/8.5.0',
  status: 200,
  startTimeUnixNano: 1_700_000_000_123_456_789n,
  durationNs: 2_500_000_001,
  requestBytes: 0,
  responseBytes: 512,
  local: { address: '10.0.0.5', port: 8080 },
  peer: { address: '10.0.0.9', port: 51234 },
  truncated: false,
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  parentSpanId: '',
  traceState: '',
  sampled: true,
  route: '/users/:id',
  rpc: undefined,
  unknownFields: [],
  resetCode: undefined,
};

export const clientTx: HttpTransaction = {
  ...serverTx,
  role: 'client',
  process: 'python3',
  method: 'POST',
  target: 'http://backend:9000/orders?id=7',
  host: 'backend:9000',
  userAgent: 'python-requests/2.31',
  status: 201,
  requestBytes: 128,
  responseBytes: 64,
  local: { address: '10.0.0.9', port: 40000 },
  peer: { address: '10.0.0.7', port: 9000 },
  parentSpanId: PARENT_ID,
  route: undefined,
};

