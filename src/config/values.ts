// Value parsers for the settings table (settings.ts): each takes a raw value
// from a flag, a variable or a YAML file and returns it typed, or fails with
// one line naming the setting, the value, where it came from and what is allowed.
import picomatch from 'picomatch';
import { routePatternProblem } from '../enrich/routes';
import { parseRequirement, type LabelRequirement, type LabelSelector } from '../select/labels';
import { parsePortRange, type PortRange } from '../capture/ports';

export class ConfigError extends Error {}

/** A raw value, the setting's name and where it came from, for error messages. */
export interface Raw {
  value: unknown;
  name: string;
  source: string;
  /** Credentials (tokens, tenant keys): never echoed in errors. */
  secret?: boolean;
}

export function fail(raw: Raw, reason: string): never {
  const shown = raw.secret ? '(value hidden)' : JSON.stringify(raw.value);
  throw new ConfigError(`invalid ${raw.name} ${shown} (from ${raw.source}): ${reason}`);
}

export function integer(raw: Raw, min: number, max: number): number {
  const v = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) fail(raw, 'expected a whole number');
  if (n < min || n > max) fail(raw, `expected ${min}..${max}`);
  return n;
}

/** A YAML list, or a comma-separated string (flags and variables). */
function items(raw: Raw): unknown[] {
  if (Array.isArray(raw.value)) return raw.value;
  if (typeof raw.value === 'string') return raw.value.split(',').filter((s) => s.trim() !== '');
  if (typeof raw.value === 'number') return [raw.value];
  return fail(raw, 'expected a list (YAML list or comma-separated)');
}

export function integerList(raw: Raw, min: number, max: number, most: number, what: string): number[] {
  const list = items(raw).map((item) => integer({ ...raw, value: item }, min, max));
  if (list.length > most) fail(raw, `expected at most ${most} ${what}`);
  return list;
}

export function portRanges(raw: Raw): PortRange[] {
  return items(raw).map((item) => parsePortRange(String(item)) ?? fail({ ...raw, value: item }, 'expected a port 1..65535 or a range such as 8000-8100'));
}

export function oneOf<T extends string>(raw: Raw, allowed: readonly T[]): T {
  if (typeof raw.value !== 'string' || !allowed.includes(raw.value as T)) fail(raw, `expected one of ${allowed.join(', ')}`);
  return raw.value as T;
}

export function boolean(raw: Raw): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  if (raw.value === 'true' || raw.value === '1') return true;
  if (raw.value === 'false' || raw.value === '0') return false;
  return fail(raw, 'expected true or false');
}

export function text(raw: Raw): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') fail(raw, 'expected a non-empty string');
  return raw.value.trim();
}

/** An address to listen on, kept as given. */
export function address(raw: Raw): string {
  if (typeof raw.value !== 'string' || raw.value === '') fail(raw, 'expected an address to listen on');
  return raw.value;
}

export function stringList(raw: Raw): string[] {
  return items(raw).map((v) => {
    if (typeof v !== 'string' || v.trim() === '') fail(raw, 'expected non-empty strings');
    return v.trim();
  });
}

/** Path patterns such as /users/{id} or /static/* (enrich/routes.ts says which are well-formed). */
export function routePatterns(raw: Raw): string[] {
  return stringList(raw).map((p) => {
    const problem = routePatternProblem(p);
    return problem === undefined ? p : fail({ ...raw, value: p }, problem);
  });
}

/** Absolute path globs (`*` within a directory, `**` across). */
export function pathGlobs(raw: Raw): string[] {
  return stringList(raw).map((g) => {
    if (!g.startsWith('/') && !g.startsWith('**')) fail({ ...raw, value: g }, 'expected an absolute path glob such as /usr/sbin/nginx or /opt/**/bin/*');
    try {
      picomatch.makeRe(g);
    } catch (err) {
      fail({ ...raw, value: g }, `not a glob: ${(err as Error).message}`);
    }
    return g;
  });
}

/** Kubernetes object names (RFC 1123 labels), e.g. namespaces. */
export function k8sNames(raw: Raw): string[] {
  return stringList(raw).map((n) => (/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n) ? n : fail({ ...raw, value: n }, 'expected a Kubernetes namespace name (lower-case letters, digits, -)')));
}

/** `app=shop,tier!=db,canary,!legacy`, a YAML list of those, or a YAML map of equalities. */
export function labelSelector(raw: Raw): LabelSelector {
  const parts: string[] =
    raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)
      ? Object.entries(raw.value as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`)
      : stringList(raw);
  return parts.map((p): LabelRequirement => {
    const r = parseRequirement(p);
    return typeof r === 'string' ? fail(raw, `${r}; expected key=value, key!=value, key or !key, comma-separated`) : r;
  });
}

/** key=value,key=value (W3C Baggage octets, percent-encoded values), as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS are. */
export function keyValues(raw: Raw): Record<string, string> {
  if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.value)) out[k] = String(v);
    return out;
  }
  const out: Record<string, string> = {};
  for (const item of stringList(raw)) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail(raw, `expected key=value pairs separated by commas (bad item "${raw.secret ? item.slice(0, Math.max(0, eq)) || '…' : item}")`);
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      fail(raw, `bad percent-encoding in "${raw.secret ? item.slice(0, eq) : item}"`);
    }
  }
  return out;
}

export function endpoint(raw: Raw): string {
  const v = text(raw);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return fail(raw, 'expected a URL such as http://collector:4318');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(raw, 'expected an http:// or https:// URL');
  return v;
}

export function ratio(raw: Raw): number {
  const n = typeof raw.value === 'number' ? raw.value : typeof raw.value === 'string' && raw.value.trim() !== '' ? Number(raw.value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) fail(raw, 'expected a ratio between 0 and 1');
  return n;
}

export function powerOfTwo(raw: Raw, min: number, max: number): number {
  const n = integer(raw, min, max);
  if ((n & (n - 1)) !== 0) fail(raw, 'expected a power of two (e.g. 8388608)');
  return n;
}
