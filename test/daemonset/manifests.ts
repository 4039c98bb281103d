// Reading daemonset/ the way `kubectl apply -k` does (the files its
// kustomization lists), and reading the PromQL of the example dashboard.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { ROOT } from '../support/agent';

export const DAEMONSET_DIR = path.join(ROOT, 'daemonset');
export const EXAMPLES_DIR = path.join(DAEMONSET_DIR, 'examples');

export interface Kustomization {
  apiVersion: string;
  kind: string;
  namespace: string;
  resources: string[];
  images: { name: string; newName?: string; newTag?: string }[];
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Parses every YAML document of a file; a syntax error or warning throws, naming the file. */
export function yamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  return list
    .map((d) => {
      const problem = [...d.errors, ...d.warnings][0];
      if (problem) throw new Error(`${path.relative(ROOT, file)}: ${problem.message}`);
      return d.toJS() as unknown;
    })
    .filter((d) => d !== null && d !== undefined);
}

export function kustomization(): Kustomization {
  return parseYaml(readFileSync(path.join(DAEMONSET_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** Every object of every file the kustomization lists, with its file. */
export function manifestObjects(): { file: string; object: K8sObject }[] {
  return kustomization().resources.flatMap((r) => yamlDocuments(path.join(DAEMONSET_DIR, r)).map((object) => ({ file: r, object: object as K8sObject })));
}

function one<T>(kind: string): T {
  const found = manifestObjects().filter((o) => o.object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in daemonset/, found ${found.length}`);
  return found[0]!.object as unknown as T;
}

export const daemonSet = (): IDaemonSet => one<IDaemonSet>('DaemonSet');
export const clusterRole = (): IClusterRole => one<IClusterRole>('ClusterRole');
export const configMap = (): IConfigMap => one<IConfigMap>('ConfigMap');

/** The DaemonSet's only container. */
export function agentContainer(ds: IDaemonSet = daemonSet()): IContainer {
  const containers = ds.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`expected one container in the DaemonSet, found ${containers.length}`);
  return containers[0]!;
}

/** The agent's settings file as the ConfigMap holds it. */
export function agentConfigText(): string {
  const text = configMap().data?.['config.yaml'];
  if (text === undefined) throw new Error('the ConfigMap has no config.yaml');
  return text;
}

/** Whether the ClusterRole allows a verb on a resource of an API group. */
export function allowedBy(role: IClusterRole, group: string, resource: string, verb: string): boolean {
  return (role.rules ?? []).some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource) && r.verbs.includes(verb));
}

// --- the example dashboard -------------------------------------------------

export interface DashboardQuery {
  panel: string;
  expr: string;
}

interface Panel {
  type: string;
  title: string;
  panels?: Panel[];
  targets?: { expr: string }[];
}

export function dashboard(): { templating: { list: Record<string, unknown>[] }; panels: Panel[] } & Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(EXAMPLES_DIR, 'grafana-dashboard.json'), 'utf8')) as ReturnType<typeof dashboard>;
}

/** Every PromQL expression of every panel (rows' nested panels included). */
export function dashboardQueries(d = dashboard()): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** Grafana's variables, replaced for a plain Prometheus query. */
export function substituteVariables(expr: string, vars: { service: string; rateInterval: string }): string {
  return expr.replaceAll('$__rate_interval', vars.rateInterval).replaceAll('$service', vars.service);
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

export interface QueryReferences {
  /** Series names as written: http_server_request_duration_seconds_bucket, sidelight_kernel_drops_total, ... */
  metrics: string[];
  /** Label names in matchers and in by/without lists. */
  labels: string[];
}

/**
 * The metric and label names a dashboard expression uses. The dashboard
 * writes every selector with braces (`name{...}`), so a name followed by `{`
 * is a metric; one followed by `(` is a function or aggregation. Any other
 * name must be a label of a matcher or of a by/without list: a metric
 * written without braces is reported as an error rather than missed.
 */
export function queryReferences(expr: string): QueryReferences {
  const plain = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\$\{?\w+\}?/g, '');
  const metrics: string[] = [];
  const labels: string[] = [];
  for (const m of plain.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    metrics.push(m[1]!);
    for (const l of m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.push(l[1]!);
  }
  for (const m of plain.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',')) if (l.trim() !== '') labels.push(l.trim());
  }
  // Everything else that looks like a name must be a function, a keyword or a label seen above.
  const known = new Set([...metrics, ...labels, ...PROMQL_KEYWORDS]);
  for (const m of plain.matchAll(/\b([a-zA-Z_:][\w:]*)\b(\s*[({]|\s+by\b)?/g)) {
    const name = m[1]!;
    if (m[2] || known.has(name) || /^\d/.test(name)) continue;
    if (/^\d+[smhdwy]$/.test(name)) continue; // a duration such as 1m
    throw new Error(`"${name}" in ${JSON.stringify(expr)} is neither a braced metric selector, a function nor a label`);
  }
  return { metrics, labels };
}

/** Prometheus text exposition: series names, each with the label names its samples carry. */
export function expositionSeries(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = out.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) labels.add(l[1]!);
    out.set(m[1]!, labels);
  }
  return out;
}

/** Metric families announced by `# TYPE` lines (present even before any sample). */
export function expositionFamilies(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** The family a series name belongs to (histogram series carry _bucket, _sum, _count). */
export function familyOf(series: string, families: Map<string, string>): string | undefined {
  if (families.has(series)) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m && families.get(m[1]!) === 'histogram' ? m[1] : undefined;
}

/** Labels Prometheus adds to every scraped series (not in any exposition). */
export const TARGET_LABELS = new Set(['instance', 'job']);
