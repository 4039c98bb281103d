// Telling an HTTP/1 message start from its first bytes: used by the parser to
// (re)synchronise and by the connection stage to tell a connection's role.
import { latin1 } from '../bytes';
import { ascii } from './tokens';

export const HTTP1_PREFIX = ascii('HTTP/1.');

// Methods trusted to mark a message start when (re)synchronising. While in
// sync any token is accepted as a method (RFC 9110 §9.1 allows extensions);
// this list only guards the guesswork of finding a boundary in a stream.
export const KNOWN_METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH',
  'REPORT', 'MKCALENDAR', 'MKACTIVITY', 'CHECKOUT', 'MERGE', 'ACL', 'BIND', 'UNBIND',
  'REBIND', 'LINK', 'UNLINK', 'PURGE', 'QUERY', 'MKWORKSPACE', 'UPDATE', 'LABEL',
  'VERSION-CONTROL', 'BASELINE-CONTROL', 'ORDERPATCH', 'MKREDIRECTREF', 'UPDATEREDIRECTREF',
  'SUBSCRIBE', 'UNSUBSCRIBE', 'NOTIFY',
];
export const METHOD_PATTERNS = KNOWN_METHODS.map((m) => ascii(m + ' '));

/** How far bytes match a message start (a const enum: numbers in the callers' loops). */
export const enum Match {
  NO = 0,
  YES = 1,
  /** Every byte so far matches, but there are too few to tell. */
  MAYBE = 2,
}
const NO = Match.NO;
const YES = Match.YES;
const MAYBE = Match.MAYBE;

export function matchPattern(b: Uint8Array, start: number, end: number, p: Uint8Array): number {
  const n = end - start;
  const m = n < p.length ? n : p.length;
  for (let i = 0; i < m; i++) if (b[start + i] !== p[i]) return NO;
  return n >= p.length ? YES : MAYBE;
}

export function matchRequestStart(b: Uint8Array, start: number, end: number): number {
  let best = NO;
  for (const p of METHOD_PATTERNS) {
    const r = matchPattern(b, start, end, p);
    if (r === YES) return YES;
    if (r === MAYBE) best = MAYBE;
  }
  return best;
}

export function matchResponseStart(b: Uint8Array, start: number, end: number): number {
  return matchPattern(b, start, end, HTTP1_PREFIX);
}

/** Starts with a known method token followed by SP. */
export function looksLikeHttp1Request(bytes: Uint8Array): boolean {
  return matchRequestStart(bytes, 0, bytes.length) === YES;
}

/** Starts with "HTTP/1.". */
export function looksLikeHttp1Response(bytes: Uint8Array): boolean {
  return matchResponseStart(bytes, 0, bytes.length) === YES;
}

/** Longest pattern above plus slack; bytes held while a push start is ambiguous. */
export const enum Probe {
  MAX = 32,
}

/** Method name; the common ones as shared constants (no allocation per request). */
export function methodName(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  for (let i = 0; i < METHOD_PATTERNS.length; i++) {
    const p = METHOD_PATTERNS[i];
    if (p.length - 1 !== n) continue;
    let k = 0;
    while (k < n && b[s + k] === p[k]) k++;
    if (k === n) return KNOWN_METHODS[i];
  }
  return latin1(b, s, e);
}
