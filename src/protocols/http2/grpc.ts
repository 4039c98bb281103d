// gRPC over HTTP/2 (the gRPC "PROTOCOL-HTTP2" spec): what a stream's
// headers and DATA bytes say about the call.

export function isGrpcContentType(ct: string | undefined): boolean {
  return ct !== undefined && ct.length >= 16 && ct.toLowerCase().startsWith('application/grpc');
}

/** "/package.Service/Method" → ["package.Service", "Method"]; undefined if not that shape. */
export function grpcPathParts(path: string): [string, string] | undefined {
  if (path.length < 4 || path.charCodeAt(0) !== 0x2f) return undefined;
  const slash = path.indexOf('/', 1);
  if (slash <= 1 || slash === path.length - 1 || path.indexOf('/', slash + 1) !== -1) return undefined;
  return [path.slice(1, slash), path.slice(slash + 1)];
}

/** grpc-status: a decimal code 0..16 (other values are kept if numeric). */
export function parseGrpcStatus(v: string | undefined): number | undefined {
  if (v === undefined || v.length === 0 || v.length > 3) return undefined;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Counts length-prefixed messages (1 flag byte + 4-byte big-endian length +
 * body) in one direction of a stream's DATA bytes. If a prefix falls in
 * bytes that were not captured the count stops being exact: `exact` says so.
 */
export class GrpcMessageCounter {
  count = 0;
  exact = true;
  /** Prefix bytes still to read (0: inside a body). */
  private need = 5;
  private len = 0;
  /** Body bytes still to come. */
  private body = 0;

  push(data: Uint8Array): void {
    if (!this.exact) return;
    let i = 0;
    const n = data.length;
    while (i < n) {
      if (this.body > 0) {
        const k = Math.min(this.body, n - i);
        this.body -= k;
        i += k;
        continue;
      }
      // Prefix byte: the first is the compressed flag, the next four the length.
      if (this.need < 5) this.len = this.len * 256 + data[i];
      else this.len = 0;
      this.need--;
      i++;
      if (this.need === 0) this.message();
    }
  }

  skip(n: number): void {
    if (!this.exact) return;
    if (this.body >= n) {
      this.body -= n;
      return;
    }
    // A prefix (or part of one) was not captured: the count is a lower bound from here.
    this.exact = false;
  }

  /** Bytes of this direction were lost with their framing: some messages may never have been seen. */
  lose(): void {
    this.exact = false;
  }

  /** The bytes seen (`total`) are exactly the messages counted, none cut off. */
  wholeMessages(total: number): boolean {
    return this.exact && this.need === 5 && this.body === 0 && (total === 0) === (this.count === 0);
  }

  private message(): void {
    this.count++;
    this.need = 5;
    this.body = this.len;
  }
}
