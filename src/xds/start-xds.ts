// xds/: the factory the composition root calls to start every dynamic config source (ADS stream and/or
// filesystem subscriptions) feeding one ConfigStore; returns a handle to observe and stop them.
import { AdsClient, type AdsClientOptions } from './ads-client.js';
import { FilesystemSubscription } from './filesystem-subscription.js';
import { TypeUrl } from './resource-type.js';
import type { ConfigStore, XdsLogger } from './config-store.js';

export interface StartXdsOptions {
  readonly store: ConfigStore;
  /** The ADS stream (dynamic_resources.ads_config), when any type comes from ADS. LDS/CDS are subscribed over it
   *  unless they come from a file (or `ads.listeners` / `ads.clusters` say otherwise). */
  readonly ads?: AdsClientOptions;
  /** lds_config.path_config_source.path / cds_config.path_config_source.path. */
  readonly ldsPath?: string;
  readonly cdsPath?: string;
  readonly logger?: XdsLogger;
}

export interface XdsSources {
  readonly ads: AdsClient | null;
  readonly files: readonly FilesystemSubscription[];
  /** control_plane.connected_state (1 connected, 0 not; 1 when there is no ADS at all). */
  connectedState(): 0 | 1;
  close(): void;
}

/** Starts the configured sources. Files are read synchronously before this returns (CDS first, then LDS). */
export function startXds(opts: StartXdsOptions): XdsSources {
  const files: FilesystemSubscription[] = [];
  if (opts.cdsPath) files.push(new FilesystemSubscription({ path: opts.cdsPath, typeUrl: TypeUrl.Cluster, logger: opts.logger }, { store: opts.store }));
  if (opts.ldsPath) files.push(new FilesystemSubscription({ path: opts.ldsPath, typeUrl: TypeUrl.Listener, logger: opts.logger }, { store: opts.store }));
  for (const f of files) f.start();
  let ads: AdsClient | null = null;
  if (opts.ads) {
    ads = new AdsClient(
      {
        ...opts.ads,
        listeners: opts.ads.listeners ?? !opts.ldsPath,
        clusters: opts.ads.clusters ?? !opts.cdsPath,
        logger: opts.ads.logger ?? opts.logger,
      },
      { store: opts.store },
    );
    ads.start();
  }
  return {
    ads,
    files,
    connectedState: () => (ads === null || ads.connected ? 1 : 0),
    close(): void {
      ads?.close();
      for (const f of files) f.close();
    },
  };
}
