// The OpenTelemetry Resource of each observed process: who produced a span
// or a metric point. One Resource object per process, reused, so OTLP
// batches group spans by process.
import os from 'node:os';
import { SDK_INFO } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { workloadAttributes, type Workload } from './k8s/pod-index';

export const DISTRO_NAME = 'sidelight';
export const DISTRO_VERSION: string = (require('../../../package.json') as { version: string }).version;

export interface ProcessInfo {
  nameOf(pid: number, fallback: () => string): string;
  commandLine(pid: number): string | undefined;
}

export interface ResourceOptions {
  /** Configured service.name for every process; undefined: the process name. */
  serviceName: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES: added to every resource, never overriding what sidelight observed. */
  extra: Record<string, string>;
  commandLine: boolean;
  /** Kubernetes metadata, when on: a process's pod and container. */
  workloads?: { of(pid: number): Workload | undefined };
}

const MAX_PROCESSES = 16_384;

export interface ProcessIdentity {
  readonly service: string;
  readonly resource: Resource;
  /** The process name it was made for: a reused pid with another one gets a new identity. */
  readonly executable: string;
  /** The workload it was made for: a pod that appears or changes gives a new identity. */
  readonly workload: Workload | undefined;
}

export class ProcessResources {
  private readonly byPid = new Map<number, ProcessIdentity>();
  private readonly host = os.hostname();

  constructor(
    private readonly processes: ProcessInfo,
    private readonly opts: ResourceOptions,
  ) {}

  /** A process's service.name (also the key of its route cap and a metric attribute) and Resource: one lookup per transaction. */
  of(pid: number, processName: string): ProcessIdentity {
    const hit = this.byPid.get(pid);
    const workload = this.opts.workloads?.of(pid);
    return hit && hit.executable === processName && hit.workload === workload ? hit : this.create(pid, processName, workload);
  }

  private create(pid: number, processName: string, workload: Workload | undefined): ProcessIdentity {
    const service = this.opts.serviceName ?? workload?.service ?? processName;
    const attrs: Record<string, string | number> = {
      ...this.opts.extra,
      'service.name': service,
      // In a pod: namespace.pod.container, as the OpenTelemetry Kubernetes conventions suggest.
      'service.instance.id': workload ? [workload.namespace, workload.podName, workload.containerName].filter((p) => p !== undefined).join('.') : `${this.host}:${pid}`,
      'process.pid': pid,
      'process.executable.name': processName,
      'host.name': this.host,
      'telemetry.sdk.name': SDK_INFO['telemetry.sdk.name'] as string,
      'telemetry.sdk.language': SDK_INFO['telemetry.sdk.language'] as string,
      'telemetry.sdk.version': SDK_INFO['telemetry.sdk.version'] as string,
      'telemetry.distro.name': DISTRO_NAME,
      'telemetry.distro.version': DISTRO_VERSION,
    };
    if (workload) {
      attrs['service.namespace'] = workload.namespace;
      Object.assign(attrs, workloadAttributes(workload));
    }
    if (this.opts.commandLine) {
      const cmd = this.processes.commandLine(pid);
      if (cmd !== undefined) attrs['process.command_line'] = cmd;
    }
    if (this.byPid.size >= MAX_PROCESSES) this.byPid.delete(this.byPid.keys().next().value as number);
    const e = { resource: resourceFromAttributes(attrs), service, executable: processName, workload };
    this.byPid.set(pid, e);
    return e;
  }
}
