// Which agent builds a benchmark compares: --agent NAME=PATH, repeatable.
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface Agent {
  name: string;
  bin: string;
}

export function positive(name: string, value: string | undefined, fallback: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${value}`);
  return n;
}

export function parseAgent(spec: string): Agent {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq);
  const bin = path.resolve(spec.slice(eq + 1));
  if (eq <= 0 || !/^[\w.-]+$/.test(name)) throw new Error(`--agent expects NAME=PATH (PATH a bin/sidelight.js), not ${spec}`);
  if (!existsSync(bin)) throw new Error(`--agent ${name}: ${bin} does not exist`);
  return { name, bin };
}
