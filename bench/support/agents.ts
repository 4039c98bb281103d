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

/**
 * Runs every agent once per round, the order reversed every other round so
 * that drift hits all alike; each result is logged on stderr as it comes.
 * Returns each agent's results, by name, in round order.
 */
export async function alternateRounds<R>(agents: Agent[], rounds: number, run: (agent: Agent) => Promise<R>): Promise<Map<string, R[]>> {
  const results = new Map<string, R[]>(agents.map((a) => [a.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const agent of r % 2 ? [...agents].reverse() : agents) {
      const got = await run(agent);
      results.get(agent.name)!.push(got);
      process.stderr.write(`round ${r + 1} ${agent.name}: ${JSON.stringify(got)}\n`);
    }
  }
  return results;
}

export function parseAgent(spec: string): Agent {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq);
  const bin = path.resolve(spec.slice(eq + 1));
  if (eq <= 0 || !/^[\w.-]+$/.test(name)) throw new Error(`--agent expects NAME=PATH (PATH a bin/sidelight.js), not ${spec}`);
  if (!existsSync(bin)) throw new Error(`--agent ${name}: ${bin} does not exist`);
  return { name, bin };
}
