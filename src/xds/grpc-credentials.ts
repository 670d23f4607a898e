// xds/: turns the bootstrap's description of management-server credentials (channel_credentials /
// channel_creds, call_credentials) into @grpc/grpc-js credentials objects for the ADS channel.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { CallCredentials, ChannelCredentials, DataSourceRef } from '../bootstrap/bootstrap-config.js';

const METADATA_TOKEN_URL = 'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token';

function bytes(ref: DataSourceRef | undefined): Buffer | null {
  if (!ref) return null;
  return 'inline' in ref ? ref.inline : readFileSync(ref.filename);
}

/** GCE/GKE metadata-server access token, cached until shortly before it expires. */
function computeEngineCredentials(): grpc.CallCredentials {
  let token = '';
  let expiresAt = 0;
  return grpc.credentials.createFromMetadataGenerator((_params, cb) => {
    const now = Date.now();
    const send = (): void => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      cb(null, md);
    };
    if (token && now < expiresAt - 60_000) return send();
    fetch(METADATA_TOKEN_URL, { headers: { 'Metadata-Flavor': 'Google' }, signal: AbortSignal.timeout(5000) })
      .then(async (r) => {
        if (!r.ok) throw new Error(`metadata server answered ${r.status}`);
        const body = (await r.json()) as { access_token: string; expires_in: number };
        token = body.access_token;
        expiresAt = Date.now() + body.expires_in * 1000;
        send();
      })
      .catch((e: unknown) => cb(e as Error));
  });
}

function callCredentials(c: CallCredentials): grpc.CallCredentials {
  if (c.kind === 'access_token') {
    return grpc.credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${c.token}`);
      cb(null, md);
    });
  }
  return computeEngineCredentials();
}

/** Channel credentials plus any channel options they imply (TLS server-name override). */
export function grpcChannelCredentials(
  channel: ChannelCredentials,
  calls: readonly CallCredentials[],
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  const options: grpc.ChannelOptions = {};
  let creds: grpc.ChannelCredentials;
  const extraCalls = [...calls];
  if (channel.kind === 'insecure') {
    creds = grpc.credentials.createInsecure();
  } else if (channel.kind === 'google_default') {
    creds = grpc.credentials.createSsl();
    if (!extraCalls.some((c) => c.kind === 'google_compute_engine')) extraCalls.push({ kind: 'google_compute_engine' });
  } else {
    creds = grpc.credentials.createSsl(bytes(channel.rootCerts), bytes(channel.privateKey), bytes(channel.certChain));
    if (channel.serverName) options['grpc.ssl_target_name_override'] = channel.serverName;
  }
  if (extraCalls.length > 0 && channel.kind !== 'insecure') {
    creds = grpc.credentials.combineChannelCredentials(creds, ...extraCalls.map(callCredentials));
  }
  return { credentials: creds, options };
}
