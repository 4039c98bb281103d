// Kubernetes label selectors in their equality- and existence-based form
// (`app=shop,tier!=db,canary,!legacy`), as kubectl's -l accepts them.
export type LabelRequirement =
  | { readonly key: string; readonly op: '=' | '!='; readonly value: string }
  | { readonly key: string; readonly op: 'exists' | '!exists' };

export type LabelSelector = readonly LabelRequirement[];

// A qualified name with an optional DNS-subdomain prefix, and a label value (may be empty).
const KEY = /^(?:[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** One requirement, or a reason it is not one. */
export function parseRequirement(text: string): LabelRequirement | string {
  const t = text.trim();
  const m = /^(!?)([^=!]+?)\s*(?:(==|=|!=)\s*(.*))?$/.exec(t);
  if (!m) return `"${t}" is not key, !key, key=value or key!=value`;
  const [, not, key, op, value] = m;
  if (!KEY.test(key)) return `"${key}" is not a valid label key`;
  if (op === undefined) return { key, op: not ? '!exists' : 'exists' };
  if (not) return `"${t}" mixes ! with a value`;
  if (!VALUE.test(value.trim())) return `"${value}" is not a valid label value`;
  return { key, op: op === '!=' ? '!=' : '=', value: value.trim() };
}

/** Every requirement holds (an empty selector matches everything). */
export function labelsMatch(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const r of selector) {
    const v = labels?.[r.key];
    if ('value' in r) {
      if ((v === r.value) !== (r.op === '=')) return false;
    } else if ((v !== undefined) !== (r.op === 'exists')) {
      return false;
    }
  }
  return true;
}

export function formatSelector(selector: LabelSelector): string {
  return selector
    .map((r) => {
      if ('value' in r) return `${r.key}${r.op}${r.value}`;
      return r.op === 'exists' ? r.key : `!${r.key}`;
    })
    .join(',');
}
