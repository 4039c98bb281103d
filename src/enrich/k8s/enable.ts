// Whether pod metadata is on, from the `kubernetes` setting and where the
// agent runs: auto turns it on inside a cluster or with a kubeconfig, and
// leaves it off (silently) on a plain VM.
import type { Config } from '../../config/config';
import { usesKubernetes } from '../../select/selector';
import { inCluster } from './watcher';

export type MetadataPlan = { on: false } | { on: true; nodeName: string; kubeconfig: string | undefined };

export function planMetadata(config: Config, env: NodeJS.ProcessEnv = process.env, tokenPath?: string): MetadataPlan {
  const cluster = inCluster(env, tokenPath);
  const on = config.kubernetes === 'on' || (config.kubernetes === 'auto' && (cluster || config.kubeconfig !== undefined));
  if (!on) {
    if (usesKubernetes(config)) {
      throw new Error(
        config.kubernetes === 'off'
          ? 'the k8s-namespaces/k8s-pod-labels selection needs pod metadata, but kubernetes is off; set kubernetes to auto or on'
          : 'the k8s-namespaces/k8s-pod-labels selection needs pod metadata, and this is not a Kubernetes pod; set kubeconfig (and node-name) or drop those settings',
      );
    }
    return { on: false };
  }
  if (!config.kubeconfig && !cluster) {
    throw new Error('kubernetes is on but there is no service account here and no kubeconfig; set kubeconfig or run the agent as a pod');
  }
  if (!config.nodeName) {
    throw new Error("kubernetes metadata needs this node's name; set NODE_NAME from the downward API (fieldRef spec.nodeName) or node-name");
  }
  return { on: true, nodeName: config.nodeName, kubeconfig: config.kubeconfig };
}
