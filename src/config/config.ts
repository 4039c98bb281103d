// The one typed configuration object, resolved from the settings table
// (settings.ts). Sources, strongest first: command-line flags, environment
// (SIDELIGHT_* and the standard OTEL_*), a YAML file (--config), defaults.
// A bad value fails start-up naming the setting, the source (flag, variable
// or file) and the problem.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SETTING_KEYS, SETTINGS, settingOf, type Config, type Earlier, type SettingKey } from './settings';
import { ConfigError, type Raw } from './values';

export { ConfigError } from './values';
export { SETTINGS, type Config } from './settings';
export type OtlpProtocol = Config['otlpProtocol'];
export type KubernetesMode = Config['kubernetes'];

// The rules of later settings read earlier ones: Config must hold what they read.
const _earlier: (c: Config) => Earlier = (c) => c;
void _earlier;

export const DEFAULTS: Config = Object.fromEntries(SETTING_KEYS.map((k) => [k, settingOf(k).default])) as Config;

const BY_NAME = new Map(SETTING_KEYS.map((k) => [SETTINGS[k].name, k]));

export type RawConfig = Partial<Record<SettingKey, unknown>>;

/** Where each value of a RawConfig came from (a variable's name, a file's path), when known. */
const ORIGINS = new WeakMap<RawConfig, { source: string; of: Partial<Record<SettingKey, string>> }>();

/** Reads the variables that are set (per setting, the first of its names that is set wins). */
export function fromEnv(env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {};
  const of: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    for (const name of SETTINGS[key].env) {
      const v = env[name];
      if (v !== undefined && v !== '') {
        out[key] = v;
        of[key] = name;
        break;
      }
    }
  }
  ORIGINS.set(out, { source: 'environment', of });
  return out;
}

/** Reads a YAML file: a mapping from setting names to values. */
export function fromFile(path: string): RawConfig {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check the --config path`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(content);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const out: RawConfig = {};
  ORIGINS.set(out, { source: `config file ${path}`, of: {} });
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must be a mapping of settings (name: value)`);
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const key = BY_NAME.get(k);
    if (!key) throw new ConfigError(`unknown setting ${k} in ${path}${suggest(k)}; known: ${[...BY_NAME.keys()].join(', ')}`);
    out[key] = v;
  }
  return out;
}

/** ", did you mean x?" for a name one edit or a case/underscore change away. */
function suggest(name: string): string {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const close = [...BY_NAME.keys()].find((n) => norm(n) === norm(name) || editDistance(n, name) <= 2);
  return close ? ` (did you mean ${close}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function sourceOf(raw: RawConfig, key: SettingKey, fallback: string): string {
  const o = ORIGINS.get(raw);
  if (!o) return fallback;
  const name = o.of[key];
  return name ? `${o.source} ${name}` : o.source;
}

/** In a pod (the API server's address is in every container's environment), the admin server must answer the kubelet's probes and Prometheus on the pod address; elsewhere it stays on loopback unless configured. */
export function runningInKubernetes(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.KUBERNETES_SERVICE_HOST;
}

/** Merges the sources (flags > env > file > defaults) and validates, setting by setting in table order. */
export function resolveConfig(sources: { flags?: RawConfig; env?: RawConfig; file?: RawConfig }, inKubernetes = runningInKubernetes()): Config {
  const pick = (key: SettingKey): Raw | undefined => {
    const s = SETTINGS[key];
    const secret = 'secret' in s && s.secret === true;
    if (sources.flags?.[key] !== undefined) return { value: sources.flags[key], name: s.name, source: 'command line', secret };
    if (sources.env?.[key] !== undefined) return { value: sources.env[key], name: s.name, source: sourceOf(sources.env, key, 'environment'), secret };
    if (sources.file?.[key] !== undefined) return { value: sources.file[key], name: s.name, source: sourceOf(sources.file, key, 'config file'), secret };
    return undefined;
  };
  const c: Record<string, unknown> = { ...DEFAULTS };
  const where = { inKubernetes };
  for (const key of SETTING_KEYS) {
    const s = settingOf(key);
    const raw = pick(key);
    if (raw) c[key] = s.parse(raw, c as unknown as Earlier);
    else if (s.unset) c[key] = s.unset(c as unknown as Earlier, where);
  }
  return c as Config;
}
