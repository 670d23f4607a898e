// upstream/transport/: turns UpstreamTlsOptions into node:tls connect options (SNI, ALPN, CA + SAN validation,
// client certificate). Shared by the HTTP/1.1 and HTTP/2 pools and usable by the TCP proxy.
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { UpstreamTlsOptions } from '../pools/upstream-pool.js';
import type { SanMatcher } from '../../config/cluster.js';

/** SAN entries of a peer certificate ('DNS:a, IP Address:1.2.3.4, URI:spiffe://...') as [type, value]. */
export function certificateSanEntries(cert: PeerCertificate): [string, string][] {
  const raw = cert.subjectaltname ?? '';
  if (!raw) return [];
  return raw.split(/,\s*/).map((s) => {
    const i = s.indexOf(':');
    const t = s.slice(0, i);
    return [t === 'IP Address' ? 'IP_ADDRESS' : t === 'email' ? 'EMAIL' : t, s.slice(i + 1)];
  });
}

/** SAN values, lower-case. */
export function certificateSans(cert: PeerCertificate): string[] {
  return certificateSanEntries(cert).map(([, v]) => v.toLowerCase());
}

/** Whether any SAN of the certificate satisfies `m`. */
export function sanMatches(m: SanMatcher, entries: readonly [string, string][]): boolean {
  for (const [type, value] of entries) {
    if (m.sanType !== 'ANY' && m.sanType !== type) continue;
    const mm = m.match;
    if (mm.kind === 'regex') {
      try {
        if (new RegExp(`^(?:${mm.regex})$`).test(value)) return true;
      } catch { /* invalid regex never matches */ }
      continue;
    }
    const v = mm.ignoreCase ? value.toLowerCase() : value;
    const want = mm.ignoreCase ? mm.value.toLowerCase() : mm.value;
    if (mm.kind === 'exact' ? v === want : mm.kind === 'prefix' ? v.startsWith(want) : mm.kind === 'suffix' ? v.endsWith(want) : v.includes(want)) return true;
  }
  return false;
}

export function tlsConnectOptions(tls: UpstreamTlsOptions, alpnOverride?: readonly string[]): ConnectionOptions {
  const alpn = tls.alpn.length ? tls.alpn : alpnOverride ?? [];
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
    const matchers = tls.sanMatchers;
    // Envoy verifies the chain against trusted_ca and then match_subject_alt_names; it does not check the
    // hostname against SNI unless asked (auto_sni_san_validation), so only SANs are checked here.
    opts.checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined => {
      if (matchers.length === 0) return undefined;
      const entries = certificateSanEntries(cert);
      if (matchers.some((m) => sanMatches(m, entries))) return undefined;
      return new Error(`upstream certificate SANs [${entries.map((e) => e.join(':')).join(', ')}] match no configured matcher`);
    };
  }
  return opts;
}
