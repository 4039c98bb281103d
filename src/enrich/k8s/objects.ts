// The parts of Kubernetes Pod and ReplicaSet objects the metadata uses, as
// the API server sends them (JSON). Typed here rather than through the
// client library's classes so the enrich path stays plain data.
export interface OwnerReference {
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ObjectMeta {
  uid?: string;
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface ContainerStatus {
  name: string;
  /** "<runtime>://<id>", set once the container was created. */
  containerID?: string;
}

export interface PodObject {
  metadata?: ObjectMeta;
  spec?: { nodeName?: string; hostNetwork?: boolean; containers?: { name: string }[] };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    ephemeralContainerStatuses?: ContainerStatus[];
  };
}

export interface ReplicaSetObject {
  metadata?: ObjectMeta;
}
