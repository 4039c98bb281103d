// What every request-response protocol reports of a request's head, below
// both the protocols and the transactions stage: the shape trace linking
// reads, and the trace-context headers (W3C Trace Context, B3) it joins on.

/** Trace-context fields of a request, as sent. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
  b3?: string;
  b3TraceId?: string;
  b3SpanId?: string;
  b3Sampled?: string;
  b3Flags?: string;
}

export type TraceField = keyof TraceHeaders;

/** The trace-context header names (lower case) and the field each fills. */
export const TRACE_HEADERS: ReadonlyMap<string, TraceField> = new Map<string, TraceField>([
  ['traceparent', 'traceparent'],
  ['tracestate', 'tracestate'],
  ['b3', 'b3'],
  ['x-b3-traceid', 'b3TraceId'],
  ['x-b3-spanid', 'b3SpanId'],
  ['x-b3-sampled', 'b3Sampled'],
  ['x-b3-flags', 'b3Flags'],
]);

/**
 * Keeps the first value of each field; tracestate may come in several
 * fields, which join with commas (W3C Trace Context §3.3.1.1), or `joiner`
 * (an HTTP/1 folded line continues with a space).
 */
export function addTraceField(t: TraceHeaders, field: TraceField, value: string, joiner = ','): void {
  if (field === 'tracestate') {
    if (t.tracestate === undefined) t.tracestate = value;
    else if (value !== '') t.tracestate += joiner + value;
    return;
  }
  t[field] ??= value;
}

/** What trace linking needs of a request head, whatever its protocol. */
export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** undefined when the request carries none (most requests: no allocation). */
  readonly trace: TraceHeaders | undefined;
}

/** Fields a transaction could not know (HTTP/2 headers coded against table state from before the agent attached). */
export type UnknownField = 'method' | 'path' | 'authority' | 'status' | 'grpcStatus';
