// http.route values from request targets. Raw paths carry ids, so using them
// as a metric attribute explodes cardinality: user patterns come first, then
// a heuristic that replaces id-like segments, then a per-service cap.
// Runs once per request, so segment checks are char loops over index ranges
// (no per-segment substrings or regexes) and the input string is returned
// as is when nothing is replaced.
import { targetPath } from '../transactions/request-target';

export interface RouteOptions {
  /** User route patterns like "/users/{id}/orders/{orderId}"; a `{name}` segment matches exactly one non-empty path segment; "*" as the whole last segment matches the rest of the path (one or more segments). Checked in order, first match wins. */
  patterns: string[];
  /** Ignore patterns, same syntax as patterns: a path matching one is not reported at all (health checks). */
  ignore: string[];
  /** Max distinct routes per service (key); later new routes become OVERFLOW_ROUTE. */
  maxRoutesPerService: number;
}

export const OVERFLOW_ROUTE = '/{overflow}';

/** Services tracked for the cap; bounds memory when service keys churn. */
const MAX_SERVICES = 10_000;

const enum Kind {
  Literal,
  Param,
  Rest,
}

interface Segment {
  kind: Kind;
  text: string;
}

interface Compiled {
  pattern: string;
  segments: Segment[];
}

export class RouteMapper {
  private readonly patterns: Compiled[];
  private readonly ignores: Compiled[];
  private readonly max: number;
  private readonly services = new Map<string, Set<string>>();
  private overflowCount = 0;
  private ignoredCount = 0;

  constructor(opts: RouteOptions) {
    this.patterns = opts.patterns.map((p) => compile(p, 'route pattern'));
    this.ignores = opts.ignore.map((p) => compile(p, 'ignore pattern'));
    const max = opts.maxRoutesPerService;
    if (!Number.isInteger(max) || max < 0) {
      throw new Error(`invalid maxRoutesPerService ${String(max)}: use a whole number >= 0`);
    }
    this.max = max;
  }

  /** Number of targets that hit the overflow value, for self-metrics. */
  get overflowed(): number {
    return this.overflowCount;
  }

  /** Number of targets ignored. */
  get ignored(): number {
    return this.ignoredCount;
  }

  route(service: string, target: string): string | undefined {
    const path = targetPath(target);
    for (const c of this.ignores) {
      if (matches(c.segments, path)) {
        this.ignoredCount++;
        return undefined;
      }
    }
    // User patterns are bounded by the config, so they bypass the cap and
    // cannot be crowded out by heuristic routes.
    for (const c of this.patterns) if (matches(c.segments, path)) return c.pattern;

    const route = defaultRoute(path);
    let seen = this.services.get(service);
    if (seen === undefined) {
      if (this.services.size >= MAX_SERVICES) {
        this.overflowCount++;
        return OVERFLOW_ROUTE;
      }
      seen = new Set();
      this.services.set(service, seen);
    }
    if (seen.has(route)) return route;
    if (seen.size >= this.max) {
      this.overflowCount++;
      return OVERFLOW_ROUTE;
    }
    seen.add(route);
    return route;
  }
}

/**
 * The heuristic alone: id-like segments become placeholders. Expects a path
 * without query or fragment. Segments are split on "/" with empty ones kept,
 * so "//" and a trailing "/" survive.
 */
export function defaultRoute(path: string): string {
  let out: string | undefined; // built only once a segment is replaced
  let copied = 0; // path[0, copied) is already in out
  let start = 0;
  const len = path.length;
  while (start <= len) {
    let end = path.indexOf('/', start);
    if (end < 0) end = len;
    const placeholder = classify(path, start, end);
    if (placeholder !== undefined) {
      out = (out ?? '') + path.slice(copied, start) + placeholder;
      copied = end;
    }
    start = end + 1;
  }
  return out === undefined ? path : out + path.slice(copied);
}

class PatternError extends Error {
  why = '';
}

/** Why a route or ignore pattern is malformed, or undefined when it is fine (the settings check them at start-up). */
export function routePatternProblem(pattern: string): string | undefined {
  try {
    compile(pattern, '');
    return undefined;
  } catch (err) {
    if (err instanceof PatternError) return err.why;
    throw err;
  }
}

function compile(pattern: string, what: string): Compiled {
  const fail = (why: string): never => {
    const err = new PatternError(`invalid ${what} ${JSON.stringify(pattern)}: ${why}`);
    err.why = why;
    throw err;
  };
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
    fail('it must start with "/", e.g. "/users/{id}"');
  }
  if (pattern.includes('?') || pattern.includes('#')) {
    fail('patterns match the path only; remove the "?query" or "#fragment" part');
  }
  const parts = pattern.split('/');
  const segments: Segment[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === '*') {
      if (i !== parts.length - 1) fail('"*" is only allowed as the whole last segment, e.g. "/static/*"');
      segments.push({ kind: Kind.Rest, text: part });
    } else if (part.startsWith('{') && part.endsWith('}') && part.length >= 2) {
      const name = part.slice(1, -1);
      if (name === '') fail('"{}" needs a name, e.g. "{id}"');
      if (name.includes('{') || name.includes('}') || name.includes('*')) {
        fail(`bad placeholder "${part}": use one name per segment, e.g. "{id}"`);
      }
      segments.push({ kind: Kind.Param, text: part });
    } else if (part.includes('*')) {
      fail('"*" is only allowed as the whole last segment, e.g. "/static/*"');
    } else if (part.includes('{') || part.includes('}')) {
      fail(`bad placeholder in "${part}": a placeholder must be a whole segment, e.g. "/users/{id}"`);
    } else {
      segments.push({ kind: Kind.Literal, text: part });
    }
  }
  return { pattern, segments };
}

function matches(segments: Segment[], path: string): boolean {
  const len = path.length;
  let pos = 0;
  let more = true; // whether a segment starts at pos
  for (const seg of segments) {
    if (!more) return false;
    if (seg.kind === Kind.Rest) return pos < len; // one or more segments, not just ""
    let end = path.indexOf('/', pos);
    if (end < 0) {
      end = len;
      more = false;
    }
    if (seg.kind === Kind.Param) {
      if (end === pos) return false;
    } else if (end - pos !== seg.text.length || !path.startsWith(seg.text, pos)) {
      return false;
    }
    pos = end + 1;
  }
  return !more;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** The segment's placeholder, keeping a short file extension ("123.json" → "{id}.json"). */
function classify(s: string, a: number, b: number): string | undefined {
  // An extension is 1-5 alphanumerics starting with a letter; "v1.2" has none.
  const low = Math.max(a + 1, b - 6);
  for (let i = b - 1; i >= low; i--) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (i === b - 1 || !isLetter(s.charCodeAt(i + 1))) break;
      const p = classifyBare(s, a, i);
      return p === undefined ? undefined : p + s.slice(i, b);
    }
    if (!isLetter(c) && !isDigit(c)) break;
  }
  return classifyBare(s, a, b);
}

function classifyBare(s: string, a: number, b: number): string | undefined {
  const len = b - a;
  if (len === 0) return undefined;
  let digits = 0;
  let hexLetters = 0;
  let letters = 0; // including hex letters
  let others = 0; // chars outside the token set
  let plainDigits = 0; // digits outside %XX escapes, so encoded words are not tokens
  let escape = 0;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      digits++;
      if (escape === 0) plainDigits++;
    } else if (isLetter(c)) {
      letters++;
      if (isHex(c)) hexLetters++;
    } else if (c === 37 /* % */) {
      escape = 3;
    } else if (c !== 95 && c !== 45 && c !== 46 && c !== 126 && c !== 61 && c !== 43) {
      others++; // not one of _ - . ~ = +
    }
    if (escape > 0) escape--;
  }
  if (digits === len) return '{id}';
  if (len === 36 && isUuid(s, a)) return '{uuid}';
  if (len >= 10 && isDate(s, a, b)) return '{date}';
  if (len >= 8 && digits > 0 && digits + hexLetters === len) return '{hex}';
  // Long tokens must contain a digit so long words ("order-management-service") stay.
  if (len >= 20 && others === 0 && plainDigits > 0) return '{token}';
  if (len >= 12 && digits >= 3 && letters > 0 && digits + letters === len) return '{token}';
  return undefined;
}

function isUuid(s: string, a: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(a + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!isHex(c)) {
      return false;
    }
  }
  return true;
}

/** 2024-01-31, optionally followed by an ISO time ("T10:00:00.123+02:00"). */
function isDate(s: string, a: number, b: number): boolean {
  for (let i = 0; i < 10; i++) {
    const c = s.charCodeAt(a + i);
    if (i === 4 || i === 7 ? c !== 45 : !isDigit(c)) return false;
  }
  if (b - a === 10) return true;
  if (s.charCodeAt(a + 10) !== 84 /* T */) return false;
  for (let i = a + 11; i < b; i++) {
    const c = s.charCodeAt(i);
    // digits : . + - Z
    if (!isDigit(c) && c !== 58 && c !== 46 && c !== 43 && c !== 45 && c !== 90) return false;
  }
  return b - a > 11;
}
