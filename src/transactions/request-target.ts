// The path and query of a request target (RFC 9112 §3.2; HTTP/2's :path is
// origin-form), read by one set of rules for every user: the route
// (enrich/routes.ts), the span's url.path and url.query (export/spans.ts) and
// the console output, so that http.route and url.path cannot disagree.
//   origin-form    /a/b?q#f        path /a/b, query q (a fragment is never
//                                  sent, but a sloppy client may: dropped)
//   absolute-form  scheme://h/a?q  path /a, query q; any scheme of RFC 3986
//                                  §3.1, any case; no path: "/"
//   asterisk-form  *               path *
//   anything else (authority-form host:port, garbage): up to "?" or "#"
// An empty path is "/".

const SLASH = 47;
const QUESTION = 63;
const HASH = 35;

// Bounds found by locate(): module state rather than an object per call, as
// the route is looked up once per transaction.
let pathStart = 0;
let pathEnd = 0;
let queryStart = -1;
let queryEnd = 0;

function locate(t: string): void {
  const len = t.length;
  let i = 0;
  if (len > 0 && t.charCodeAt(0) !== SLASH) {
    const sep = t.indexOf('://');
    if (sep > 0 && isScheme(t, sep)) {
      i = sep + 3;
      while (i < len) {
        const c = t.charCodeAt(i);
        if (c === SLASH || c === QUESTION || c === HASH) break;
        i++;
      }
    }
  }
  pathStart = i;
  while (i < len) {
    const c = t.charCodeAt(i);
    if (c === QUESTION || c === HASH) break;
    i++;
  }
  pathEnd = i;
  if (i < len && t.charCodeAt(i) === QUESTION) {
    queryStart = i + 1;
    const hash = t.indexOf('#', queryStart);
    queryEnd = hash < 0 ? len : hash;
  } else {
    queryStart = -1;
  }
}

/** The path of a request target: no scheme, authority, query or fragment. */
export function targetPath(target: string): string {
  locate(target);
  if (target === '*') return '*';
  if (pathEnd === pathStart) return '/';
  return pathStart === 0 && pathEnd === target.length ? target : target.slice(pathStart, pathEnd);
}

/** The query of a request target without its "?" ("" for a bare "?"); undefined when there is none. */
export function targetQuery(target: string): string | undefined {
  locate(target);
  return query(target);
}

/** Path and query together, the target read once. */
export function targetParts(target: string): { path: string; query: string | undefined } {
  return { path: targetPath(target), query: query(target) };
}

/** The query located by the last locate() of `target`. */
function query(target: string): string | undefined {
  return queryStart < 0 ? undefined : target.slice(queryStart, queryEnd);
}

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1), the characters before `end`. */
function isScheme(s: string, end: number): boolean {
  if (!isLetter(s.charCodeAt(0))) return false;
  for (let i = 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isLetter(c) && !(c >= 48 && c <= 57) && c !== 43 && c !== 45 && c !== 46) return false;
  }
  return true;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
