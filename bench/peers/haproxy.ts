// Bench peer: HAProxy configuration per scenario (single thread: nbthread 1; `haproxy-t2` of h1-50-c2: nbthread 2), HTTP mode for h1/h2c/gRPC,
// TCP mode for passthrough, and req.ssl_sni routing for TLS passthrough.

export type ProxyMode = 'h1' | 'h2' | 'tcp' | 'sni';

export function haproxyConfig(mode: ProxyMode, listen: number, upstream: number, sniName = 'localhost', threads = 1): string {
  const g = [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 4096', // fits the usual 20k/64k FD limits without raising them
    '  log stderr format raw local0 emerg',
    'defaults',
    `  mode ${mode === 'tcp' || mode === 'sni' ? 'tcp' : 'http'}`,
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 60s',
    '',
  ];
  if (mode === 'h1' || mode === 'h2') {
    const proto = mode === 'h2' ? ' proto h2' : '';
    return [...g,
      'frontend fe',
      `  bind 127.0.0.1:${listen}${proto}`,
      '  default_backend be',
      'backend be',
      '  http-reuse always',
      `  server s1 127.0.0.1:${upstream}${proto} maxconn 1000`,
      ''].join('\n');
  }
  if (mode === 'tcp') {
    return [...g, 'frontend fe', `  bind 127.0.0.1:${listen}`, '  default_backend be', 'backend be', `  server s1 127.0.0.1:${upstream}`, ''].join('\n');
  }
  return [...g,
    'frontend fe',
    `  bind 127.0.0.1:${listen}`,
    '  tcp-request inspect-delay 5s',
    '  tcp-request content accept if { req.ssl_hello_type 1 }',
    `  use_backend be if { req.ssl_sni -i ${sniName} }`,
    'backend be',
    `  server s1 127.0.0.1:${upstream}`,
    ''].join('\n');
}
