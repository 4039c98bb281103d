// The enrich stage: gives each transaction what the kernel could not say —
// its process's service and OpenTelemetry resource, its route (or drops it
// when an ignore pattern matches), and the Kubernetes pod at the other end.
import type { Config } from '../config/config';
import type { HttpTransaction } from '../transactions/transaction';
import type { ProcessWorkloads } from './k8s/process-workloads';
import { ProcessResources, type ProcessIdentity, type ProcessInfo } from './resource';
import { RouteMapper } from './routes';

export interface EnricherOptions {
  config: Pick<Config, 'routes' | 'ignoreRoutes' | 'maxRoutesPerService' | 'serviceName' | 'resourceAttributes' | 'commandLine'>;
  processes: ProcessInfo;
  /** Kubernetes metadata, when on. */
  workloads?: ProcessWorkloads;
}

export class Enricher {
  readonly routes: RouteMapper;
  readonly resources: ProcessResources;
  private readonly workloads: ProcessWorkloads | undefined;

  constructor(opts: EnricherOptions) {
    const c = opts.config;
    this.workloads = opts.workloads;
    this.routes = new RouteMapper({ patterns: c.routes, ignore: c.ignoreRoutes, maxRoutesPerService: c.maxRoutesPerService });
    this.resources = new ProcessResources(opts.processes, {
      serviceName: c.serviceName,
      extra: c.resourceAttributes,
      commandLine: c.commandLine,
      workloads: opts.workloads,
    });
  }

  /**
   * Sets the transaction's route and peer workload (the fields this stage
   * owns) and returns its process's identity; undefined: an ignore pattern
   * matched, so it is not reported at all.
   */
  enrich(tx: HttpTransaction): ProcessIdentity | undefined {
    const proc = this.resources.of(tx.pid, tx.process);
    // An unknown path (HTTP/2 attached mid-connection) has no route to derive.
    if (tx.target !== '' || !tx.unknownFields.includes('path')) {
      const route = this.routes.route(proc.service, tx.target);
      if (route === undefined) return undefined; // ignore pattern (health checks): not reported
      tx.route = route;
    }
    if (this.workloads) {
      const peer = this.workloads.index.podByIp(tx.peer.address);
      if (peer) tx.peerWorkload = peer;
    }
    return proc;
  }
}
