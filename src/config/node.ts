// config/: the node identity meshlet presents to the control plane (from the bootstrap and CLI flags).

export interface Locality {
  readonly region?: string;
  readonly zone?: string;
  readonly sub_zone?: string;
}

export interface NodeInfo {
  readonly id: string;
  readonly cluster: string;
  readonly locality: Locality;
  /** node.metadata Struct, kept verbatim with its JSON types (strings, numbers, arrays, objects). */
  readonly metadata: Readonly<Record<string, unknown>>;
}
