// Bench harness: a throwaway self-signed certificate for the TLS backend of the tls-sni scenario (openssl).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface CertFiles { readonly cert: string; readonly key: string }

/** Writes localhost.crt/.key into dir; returns null with the reason on stderr when openssl is missing or fails. */
export function makeSelfSigned(openssl: string | null, dir: string): CertFiles | string {
  if (!openssl) return 'openssl not found';
  const cert = join(dir, 'localhost.crt');
  const key = join(dir, 'localhost.key');
  const r = spawnSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-keyout', key, '-out', cert], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? { cert, key } : `openssl failed: ${(r.stderr ?? '').slice(-200)}`;
}
