// A test-only OTLP receiver (gRPC or HTTP protobuf/JSON), built directly from
// the official opentelemetry-proto definitions, so that tests can check what
// the agent exports without trusting any @opentelemetry exporter code.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import { sleep } from './wait';

export type AttrValue = string | number | boolean;
export type Attributes = Record<string, AttrValue>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP enum number: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  status: { code: number; message: string };
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedMetricPoint {
  metric: string;
  unit: string;
  type: 'histogram' | 'sum' | 'gauge';
  attributes: Attributes;
  resource: Attributes;
  /** histogram only */
  count?: bigint;
  /** histogram only, and only when the point carries a sum */
  sum?: number;
  /** histogram only */
  bucketCounts?: bigint[];
  /** histogram only */
  explicitBounds?: number[];
  /** sum and gauge only (asDouble, or asInt as a number) */
  value?: number;
}

export interface OtlpReceiverOptions {
  transport: 'grpc' | 'http';
  /** 0 or undefined: a free port on 127.0.0.1 */
  port?: number;
}

const HOST = '127.0.0.1';
const MAX_BODY = 64 * 1024 * 1024;
const TRACE_SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const METRICS_SERVICE_PROTO = 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto';
const TRACE_PKG = 'opentelemetry.proto.collector.trace.v1';
const METRICS_PKG = 'opentelemetry.proto.collector.metrics.v1';

/** Directory holding opentelemetry/proto/**.proto (the official definitions). */
export function otlpProtoRoot(): string {
  return path.join(path.dirname(require.resolve('otlp-protos/package.json')), 'build', 'protos');
}

/**
 * The options both decoders use, so that gRPC (proto-loader) and HTTP
 * (protobufjs) produce the same plain objects: camelCase keys, 64-bit integers
 * as exact decimal strings, enums as numbers, bytes left as Buffers, and no
 * defaults filled in (absent fields stay absent).
 */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false, arrays: false };

let cachedRoot: protobuf.Root | undefined;
/** protobufjs Root with both collector services (and everything they import). */
export function otlpRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const dir = otlpProtoRoot();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string =>
    path.isAbsolute(target) ? target : path.join(dir, target);
  root.loadSync([TRACE_SERVICE_PROTO, METRICS_SERVICE_PROTO], { keepCase: false });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

let cachedPackageDefinition: protoLoader.PackageDefinition | undefined;
/** proto-loader definition of both collector services (for gRPC servers and clients). */
export function otlpPackageDefinition(): protoLoader.PackageDefinition {
  cachedPackageDefinition ??= protoLoader.loadSync([TRACE_SERVICE_PROTO, METRICS_SERVICE_PROTO], {
    includeDirs: [otlpProtoRoot()],
    keepCase: false,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: false,
  });
  return cachedPackageDefinition;
}

// ---------------------------------------------------------------------------
// Normalisation of decoded requests. The input is a plain object either from
// protobufjs/proto-loader (bytes are Buffers, longs decimal strings, enums
// numbers) or from OTLP/JSON (ids hex strings, other bytes base64, longs
// strings or numbers, enums numbers or names). Keys are lowerCamelCase; the
// original snake_case names are accepted too.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function get(o: unknown, key: string): unknown {
  if (!isObj(o)) return undefined;
  if (o[key] !== undefined && o[key] !== null) return o[key];
  const s = snake(key);
  return o[s] === null ? undefined : o[s];
}

function list(o: unknown, key: string): unknown[] {
  const v = get(o, key);
  return Array.isArray(v) ? v : [];
}

function str(o: unknown, key: string): string {
  const v = get(o, key);
  return v === undefined ? '' : String(v);
}

function toBigInt(v: unknown): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  // A Long (should not happen with longs: String, but be lenient).
  if (isObj(v) && typeof v['toString'] === 'function') return BigInt(String(v));
  throw new TypeError(`not an integer: ${JSON.stringify(v)}`);
}

function toNumber(v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') return v;
  return Number(String(v)); // also "NaN", "Infinity", "-Infinity" in OTLP/JSON
}

/** Trace and span ids: Buffer → lowercase hex; OTLP/JSON hex string → lowercase. */
function toHexId(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (typeof v === 'string') {
    if (/^(?:[0-9a-fA-F]{2})*$/.test(v)) return v.toLowerCase();
    return Buffer.from(v, 'base64').toString('hex'); // lenient: a base64 id
  }
  throw new TypeError(`not an id: ${JSON.stringify(v)}`);
}

function toBase64(v: unknown): string {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return String(v ?? '');
}

function enumValue(v: unknown, enumName: string): number {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') return v;
  const s = String(v);
  if (/^-?\d+$/.test(s)) return Number(s);
  const values = otlpRoot().lookupEnum(enumName).values;
  const n = values[s];
  if (n === undefined) throw new TypeError(`unknown ${enumName} value ${JSON.stringify(s)}`);
  return n;
}

/** AnyValue → JSON-friendly value (used inside arrays and kvlists). */
function anyValueToJson(v: unknown): unknown {
  if (!isObj(v)) return null;
  const s = get(v, 'stringValue');
  if (s !== undefined) return String(s);
  const b = get(v, 'boolValue');
  if (b !== undefined) return Boolean(b);
  const i = get(v, 'intValue');
  if (i !== undefined) return toNumber(i);
  const d = get(v, 'doubleValue');
  if (d !== undefined) return toNumber(d);
  const arr = get(v, 'arrayValue');
  if (arr !== undefined) return list(arr, 'values').map(anyValueToJson);
  const kv = get(v, 'kvlistValue');
  if (kv !== undefined) {
    const out: Obj = {};
    for (const e of list(kv, 'values')) out[str(e, 'key')] = anyValueToJson(get(e, 'value'));
    return out;
  }
  const bytes = get(v, 'bytesValue');
  if (bytes !== undefined) return toBase64(bytes);
  return null; // an empty AnyValue
}

/** AnyValue → attribute value: scalars as such; arrays and kvlists as JSON text, bytes as base64. */
function anyValue(v: unknown): AttrValue {
  const j = anyValueToJson(v);
  if (typeof j === 'string' || typeof j === 'number' || typeof j === 'boolean') return j;
  return JSON.stringify(j);
}

function attributes(kvs: unknown[]): Attributes {
  const out: Attributes = {};
  for (const kv of kvs) out[str(kv, 'key')] = anyValue(get(kv, 'value'));
  return out;
}

function scopeOf(scoped: unknown): { name: string; version: string } {
  const s = get(scoped, 'scope') ?? get(scoped, 'instrumentationLibrary');
  return { name: str(s, 'name'), version: str(s, 'version') };
}

/** ScopeSpans / ScopeMetrics, plus the deprecated InstrumentationLibrary* form. */
function scoped(resourceEntry: unknown, current: string, deprecated: string): unknown[] {
  return [...list(resourceEntry, current), ...list(resourceEntry, deprecated)];
}

export function spansFromRequest(req: unknown): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of list(req, 'resourceSpans')) {
    const resource = attributes(list(get(rs, 'resource'), 'attributes'));
    for (const ss of scoped(rs, 'scopeSpans', 'instrumentationLibrarySpans')) {
      const scope = scopeOf(ss);
      for (const span of list(ss, 'spans')) {
        const status = get(span, 'status');
        out.push({
          traceId: toHexId(get(span, 'traceId')),
          spanId: toHexId(get(span, 'spanId')),
          parentSpanId: toHexId(get(span, 'parentSpanId')),
          traceState: str(span, 'traceState'),
          name: str(span, 'name'),
          kind: enumValue(get(span, 'kind'), 'opentelemetry.proto.trace.v1.Span.SpanKind'),
          startTimeUnixNano: toBigInt(get(span, 'startTimeUnixNano')),
          endTimeUnixNano: toBigInt(get(span, 'endTimeUnixNano')),
          attributes: attributes(list(span, 'attributes')),
          status: {
            code: enumValue(get(status, 'code'), 'opentelemetry.proto.trace.v1.Status.StatusCode'),
            message: str(status, 'message'),
          },
          resource: { ...resource },
          scope: { ...scope },
        });
      }
    }
  }
  return out;
}

export function metricPointsFromRequest(req: unknown): ReceivedMetricPoint[] {
  const out: ReceivedMetricPoint[] = [];
  for (const rm of list(req, 'resourceMetrics')) {
    const resource = attributes(list(get(rm, 'resource'), 'attributes'));
    for (const sm of scoped(rm, 'scopeMetrics', 'instrumentationLibraryMetrics')) {
      for (const m of list(sm, 'metrics')) {
        const base = { metric: str(m, 'name'), unit: str(m, 'unit') };
        const histogram = get(m, 'histogram');
        const sum = get(m, 'sum');
        const gauge = get(m, 'gauge');
        if (histogram !== undefined) {
          for (const p of list(histogram, 'dataPoints')) {
            const point: ReceivedMetricPoint = {
              ...base,
              type: 'histogram',
              attributes: attributes(list(p, 'attributes')),
              resource: { ...resource },
              count: toBigInt(get(p, 'count')),
            };
            const s = get(p, 'sum');
            if (s !== undefined) point.sum = toNumber(s);
            point.bucketCounts = list(p, 'bucketCounts').map(toBigInt);
            point.explicitBounds = list(p, 'explicitBounds').map(toNumber);
            out.push(point);
          }
        } else if (sum !== undefined || gauge !== undefined) {
          const type = sum !== undefined ? 'sum' : 'gauge';
          for (const p of list(sum ?? gauge, 'dataPoints')) {
            const d = get(p, 'asDouble');
            out.push({
              ...base,
              type,
              attributes: attributes(list(p, 'attributes')),
              resource: { ...resource },
              value: d !== undefined ? toNumber(d) : toNumber(get(p, 'asInt')),
            });
          }
        }
        // exponential histograms and summaries are not recorded
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------

type Signal = 'traces' | 'metrics';

interface Waiter {
  check(): void;
}

function isAddrInUse(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(String(e?.message ?? ''));
}

function mediaType(h: string | undefined): string {
  return (h ?? '').split(';')[0]!.trim().toLowerCase();
}

export class OtlpReceiver {
  readonly transport: 'grpc' | 'http';
  readonly spans: ReceivedSpan[] = [];
  /** every data point of every export request, flattened, in arrival order */
  readonly metrics: ReceivedMetricPoint[] = [];
  /** successfully decoded export requests */
  readonly requests = { traces: 0, metrics: 0 };
  /** headers (HTTP) or metadata (gRPC) of each successfully decoded export request, lowercase keys */
  readonly headers: Array<Record<string, string>> = [];
  /** requests that were refused or could not be decoded, one line each */
  readonly errors: string[] = [];
  /**
   * Faults to play, changeable at any time: `refuse` answers every export
   * with HTTP 503 / gRPC UNAVAILABLE and records nothing; `delayMs` holds
   * each answer (and the recording) that long.
   */
  readonly faults: { refuse: boolean; delayMs: number } = { refuse: false, delayMs: 0 };
  /** exports answered with a refusal */
  refused = 0;

  private _port: number;
  private httpServer: http.Server | undefined;
  private grpcServer: grpc.Server | undefined;
  private readonly waiters = new Set<Waiter>();

  private constructor(transport: 'grpc' | 'http', port: number) {
    this.transport = transport;
    this._port = port;
  }

  static async start(opts: OtlpReceiverOptions): Promise<OtlpReceiver> {
    if (opts.transport !== 'grpc' && opts.transport !== 'http') {
      throw new Error(`unknown OTLP transport ${String(opts.transport)}`);
    }
    const r = new OtlpReceiver(opts.transport, opts.port ?? 0);
    otlpRoot(); // load the protos up front, so a bad install fails here
    await r.listen();
    return r;
  }

  get port(): number {
    return this._port;
  }

  /** 'http://127.0.0.1:PORT' */
  get endpoint(): string {
    return `http://${HOST}:${this._port}`;
  }

  get running(): boolean {
    return this.httpServer !== undefined || this.grpcServer !== undefined;
  }

  /** Resolves once spans.length >= n; rejects on timeout, saying how many arrived. */
  async waitForSpans(n: number, timeoutMs: number): Promise<ReceivedSpan[]> {
    try {
      await this.waitFor(() => this.spans.length >= n, timeoutMs, `${n} span(s)`);
    } catch (err) {
      const names = this.spans.map((s) => s.name).slice(0, 20);
      throw new Error(
        `${(err as Error).message}; ${this.spans.length} span(s) arrived` +
          (names.length ? ` (${names.map((x) => JSON.stringify(x)).join(', ')})` : ''),
      );
    }
    return this.spans;
  }

  /** Resolves once pred() holds (checked on every export and every 25 ms); rejects on timeout. */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const waiter: Waiter = {
        check: () => {
          try {
            if (pred()) finish();
          } catch (err) {
            finish(err instanceof Error ? err : new Error(String(err)));
          }
        },
      };
      const timer = setTimeout(() => {
        finish(
          new Error(
            `OTLP receiver (${this.transport}, ${this.endpoint}): timed out after ${timeoutMs} ms waiting for ${what}` +
              ` [requests: ${this.requests.traces} traces, ${this.requests.metrics} metrics;` +
              ` ${this.spans.length} spans, ${this.metrics.length} metric points` +
              (this.errors.length ? `; errors: ${this.errors.slice(-3).join(' | ')}` : '') +
              ']',
          ),
        );
      }, timeoutMs);
      const poll = setInterval(() => waiter.check(), 25);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /** Closes the server and every open connection. Received data is kept. */
  async stop(): Promise<void> {
    const hs = this.httpServer;
    const gs = this.grpcServer;
    this.httpServer = undefined;
    this.grpcServer = undefined;
    if (hs) {
      await new Promise<void>((resolve) => {
        hs.close(() => resolve());
        hs.closeAllConnections();
      });
    }
    if (gs) gs.forceShutdown();
  }

  /** Listens again on the same port, keeping everything received so far. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await this.listen();
        return;
      } catch (err) {
        if (!isAddrInUse(err) || Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
  }

  // -------------------------------------------------------------------------

  private listen(): Promise<void> {
    return this.transport === 'grpc' ? this.listenGrpc() : this.listenHttp();
  }

  private record(signal: Signal, req: unknown, headers: Record<string, string>): void {
    // Decode fully before recording anything, so a bad request leaves no trace.
    if (signal === 'traces') {
      const spans = spansFromRequest(req);
      this.spans.push(...spans);
      this.requests.traces++;
    } else {
      const points = metricPointsFromRequest(req);
      this.metrics.push(...points);
      this.requests.metrics++;
    }
    this.headers.push(headers);
    for (const w of [...this.waiters]) w.check();
  }

  private listenGrpc(): Promise<void> {
    const pkg = grpc.loadPackageDefinition(otlpPackageDefinition());
    const lookup = (name: string): grpc.ServiceDefinition => {
      let cur: unknown = pkg;
      for (const part of name.split('.')) cur = (cur as Record<string, unknown>)[part];
      return (cur as { service: grpc.ServiceDefinition }).service;
    };
    const handler =
      (signal: Signal): grpc.handleUnaryCall<unknown, unknown> =>
      (call, callback) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(call.metadata.getMap())) {
          headers[k.toLowerCase()] = typeof v === 'string' ? v : Buffer.from(v).toString('base64');
        }
        const answer = (): void => {
          if (this.faults.refuse) {
            this.refused++;
            callback({ code: grpc.status.UNAVAILABLE, details: 'refused by the test' });
            return;
          }
          try {
            this.record(signal, call.request, headers);
          } catch (err) {
            const msg = `grpc ${signal}: ${(err as Error).message}`;
            this.errors.push(msg);
            callback({ code: grpc.status.INVALID_ARGUMENT, details: msg });
            return;
          }
          callback(null, {});
        };
        if (this.faults.delayMs > 0) setTimeout(answer, this.faults.delayMs);
        else answer();
      };
    const server = new grpc.Server();
    server.addService(lookup(`${TRACE_PKG}.TraceService`), { Export: handler('traces') });
    server.addService(lookup(`${METRICS_PKG}.MetricsService`), { Export: handler('metrics') });
    return new Promise<void>((resolve, reject) => {
      server.bindAsync(`${HOST}:${this._port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          server.forceShutdown();
          reject(err);
          return;
        }
        this._port = port;
        this.grpcServer = server;
        resolve();
      });
    });
  }

  private listenHttp(): Promise<void> {
    const server = http.createServer((req, res) => this.onHttp(req, res));
    server.keepAliveTimeout = 1000;
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(this._port, HOST, () => {
        server.off('error', onError);
        this._port = (server.address() as AddressInfo).port;
        this.httpServer = server;
        resolve();
      });
    });
  }

  private onHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = (req.url ?? '').split('?')[0];
    const signal: Signal | undefined = url === '/v1/traces' ? 'traces' : url === '/v1/metrics' ? 'metrics' : undefined;
    const reply = (code: number, type: string, body: string | Uint8Array): void => {
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const fail = (code: number, msg: string): void => {
      this.errors.push(`http ${req.method} ${req.url}: ${code} ${msg}`);
      req.resume();
      reply(code, 'text/plain', msg + '\n');
    };
    if (!signal) return fail(404, 'not found');
    if (this.faults.delayMs > 0 && !(req as { delayed?: boolean }).delayed) {
      (req as { delayed?: boolean }).delayed = true;
      setTimeout(() => this.onHttp(req, res), this.faults.delayMs);
      return;
    }
    if (this.faults.refuse) {
      this.refused++;
      req.resume();
      reply(503, 'text/plain', 'refused by the test\n');
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return fail(405, 'method not allowed');
    }
    const type = mediaType(req.headers['content-type']);
    const json = type === 'application/json';
    if (!json && type !== 'application/x-protobuf' && type !== 'application/protobuf') {
      return fail(415, `unsupported content-type ${JSON.stringify(req.headers['content-type'] ?? '')}`);
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      return fail(415, `unsupported content-encoding ${JSON.stringify(encoding)}`);
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooBig) return fail(413, 'body too large');
      let body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      const pkg = signal === 'traces' ? TRACE_PKG : METRICS_PKG;
      const kind = signal === 'traces' ? 'Trace' : 'Metrics';
      let decoded: unknown;
      try {
        if (encoding === 'gzip') body = zlib.gunzipSync(body);
        else if (encoding === 'deflate') body = zlib.inflateSync(body);
        if (json) {
          decoded = body.length ? JSON.parse(body.toString('utf8')) : {};
          if (!isObj(decoded)) throw new Error('JSON body is not an object');
        } else {
          const t = otlpRoot().lookupType(`${pkg}.Export${kind}ServiceRequest`);
          decoded = t.toObject(t.decode(body), TO_OBJECT);
        }
        this.record(signal, decoded, headers);
      } catch (err) {
        return fail(400, `cannot decode ${signal} request: ${(err as Error).message}`);
      }
      // The OTLP/HTTP spec wants the response in the request's content type.
      if (json) return reply(200, 'application/json', '{}');
      const resType = otlpRoot().lookupType(`${pkg}.Export${kind}ServiceResponse`);
      reply(200, 'application/x-protobuf', resType.encode(resType.create({})).finish());
    });
  }
}
