// upstream/transport/: turns UpstreamTlsOptions into node:tls connect options (SNI, ALPN, CA + SAN validation,
// client certificate). Shared by the HTTP/1.1 and HTTP/2 pools and usable by the TCP proxy.
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { UpstreamTlsOptions } from '../pools/upstream-pool.js';

/** SAN strings of a peer certificate ('DNS:a, IP Address:1.2.3.4, URI:spiffe://...') → lower-case values. */
export function certificateSans(cert: PeerCertificate): string[] {
  const raw = cert.subjectaltname ?? '';
  if (!raw) return [];
  return raw.split(/,\s*/).map((s) => s.slice(s.indexOf(':') + 1).toLowerCase());
}

export function tlsConnectOptions(tls: UpstreamTlsOptions, alpnOverride?: readonly string[]): ConnectionOptions {
  const alpn = alpnOverride ?? tls.alpn;
  const opts: ConnectionOptions = {
    servername: tls.sni || undefined,
    ALPNProtocols: alpn.length ? [...alpn] : undefined,
    rejectUnauthorized: tls.ca !== null,
    ca: tls.ca ?? undefined,
    cert: tls.certChain ?? undefined,
    key: tls.privateKey ?? undefined,
  };
  if (tls.minVersion) opts.minVersion = tls.minVersion as ConnectionOptions['minVersion'];
  if (tls.maxVersion) opts.maxVersion = tls.maxVersion as ConnectionOptions['maxVersion'];
  if (tls.ca !== null) {
    const sans = tls.matchSubjectAltNames;
    // Envoy verifies the chain against trusted_ca and then match_subject_alt_names; it does not check the
    // hostname against SNI unless asked (auto_sni_san_validation), so only SANs are checked here.
    opts.checkServerIdentity = (host: string, cert: PeerCertificate): Error | undefined => {
      if (sans.length === 0) return undefined;
      const have = certificateSans(cert);
      if (sans.some((s) => have.includes(s))) return undefined;
      return new Error(`upstream certificate SANs [${have.join(', ')}] match none of [${sans.join(', ')}]`);
    };
  }
  return opts;
}
