// The bounds a connection's bytes may not cross. Hostile or broken input
// that crosses one gets its connection marked and skipped from there on: the
// parser stops, requests still waiting count as unanswered (never reported),
// and the rest of the connection's bytes count as unparsed, reason "limit".
// Peers themselves drop such a connection (RFC 9113 §4.3, §6.5.2; RFC 9112 §2.3).

/** HTTP/1 start line plus header section, bytes: a 1 MiB header line or 100,000 headers cross it. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** HTTP/1 chunk-size line (with extensions) or trailer section, bytes. */
export const MAX_CHUNK_LINE_BYTES = 64 * 1024;
/** HTTP/1 requests waiting for their response on one connection (a pipelining flood). */
export const MAX_PENDING_REQUESTS = 4096;
/** HTTP/2 header block (HEADERS or PUSH_PROMISE plus its CONTINUATIONs), bytes: a CONTINUATION flood crosses it. */
export const MAX_HEADER_BLOCK = 256 * 1024;
/** HTTP/2 decoded header list, bytes as RFC 7541 §4.1 counts them (name + value + 32 per field): an HPACK bomb crosses it. */
export const MAX_HEADER_LIST = 256 * 1024;
/** HPACK dynamic table size, bytes, whatever the peers' SETTINGS say (they default to 4096; 64 KiB is far above common use). */
export const MAX_HEADER_TABLE = 64 * 1024;
/** HTTP/2 streams open at once on one connection (a stream-id storm). */
export const MAX_OPEN_STREAMS = 4096;

export type Limit =
  /** Start line plus headers above MAX_HEAD_BYTES. */
  | 'http1_head'
  /** A chunk-size line or the trailers above MAX_CHUNK_LINE_BYTES. */
  | 'http1_chunk_line'
  /** A chunk size above 2^53 - 1. */
  | 'http1_chunk_size'
  /** More than MAX_PENDING_REQUESTS requests without a response. */
  | 'http1_pending_requests'
  | 'http2_header_block'
  | 'http2_header_list'
  /** A table size update above MAX_HEADER_TABLE. */
  | 'http2_header_table'
  | 'http2_open_streams'
  /** An HPACK decoding error: integer above 2^31 - 1, table size update above the SETTINGS value, index past the table, bad Huffman code. */
  | 'hpack';

export const LIMITS: readonly Limit[] = [
  'http1_head', 'http1_chunk_line', 'http1_chunk_size', 'http1_pending_requests',
  'http2_header_block', 'http2_header_list', 'http2_header_table', 'http2_open_streams', 'hpack',
];

/** Tells the connection's owner that a limit was crossed; the parser has stopped. */
export type LimitHook = (limit: Limit) => void;
