// Every protocol the agent parses. A connection goes to the protocol whose
// kernel class its events carry; one the kernel has not judged yet waits,
// and one it cannot judge (opened before the agent) goes to the first
// protocol that needs a role, once a role is known.
import { HTTP1 } from './http1/protocol';
import { HTTP2 } from './http2/protocol';

export const PROTOCOLS = [HTTP1, HTTP2] as const;

export type ProtocolName = (typeof PROTOCOLS)[number]['name'];

/** Each protocol's self-metrics, by name. */
export type ProtocolStats = { [P in (typeof PROTOCOLS)[number] as P['name']]: ReturnType<P['newStats']> };

export function newProtocolStats(): ProtocolStats {
  return Object.fromEntries(PROTOCOLS.map((p) => [p.name, p.newStats()])) as ProtocolStats;
}
