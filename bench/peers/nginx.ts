// Bench peer and backend: nginx configurations — the 13-byte backend (plain and TLS) and nginx as the proxy under
// test (worker_processes 1): proxy_pass with upstream keep-alive, grpc_pass for h2c/gRPC, stream for TCP and
// ssl_preread for TLS passthrough by SNI.
import type { ProxyMode } from './haproxy.js';

function head(dir: string, workers: number, streamModule: string | null): string[] {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return [
    streamModule ? `load_module ${streamModule};` : '',
    asRoot ? 'user root;' : '',
    `worker_processes ${workers};`,
    'daemon off;',
    'master_process on;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log error;`,
    'events { worker_connections 8192; }',
  ];
}

function httpHead(dir: string): string[] {
  return [
    '  access_log off;',
    `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
    '  keepalive_requests 10000000;',
    '  keepalive_timeout 60s;',
  ];
}

export interface BackendPorts { readonly http: number; readonly https: number | null }

/** The 13-byte backend: HTTP/1.1 on `ports.http`, HTTPS (cert) on `ports.https` for the tls-sni scenario. */
export function nginxBackendConfig(dir: string, workers: number, ports: BackendPorts, cert: { cert: string; key: string } | null): string {
  const lines = [...head(dir, workers, null), 'http {', ...httpHead(dir),
    '  server {',
    `    listen 127.0.0.1:${ports.http};`,
    '    location / { default_type text/plain; return 200 "Hello, World!"; }',
    '  }'];
  if (ports.https && cert) {
    lines.push('  server {',
      `    listen 127.0.0.1:${ports.https} ssl;`,
      `    ssl_certificate ${cert.cert};`,
      `    ssl_certificate_key ${cert.key};`,
      '    location / { default_type text/plain; return 200 "Hello, World!"; }',
      '  }');
  }
  lines.push('}', '');
  return lines.filter((l) => l !== '').join('\n');
}

/** nginx as the proxy under test; null when the mode needs the stream module and it is missing. */
export function nginxProxyConfig(mode: ProxyMode, dir: string, listen: number, upstream: number, streamModule: string | null, sniName = 'localhost'): string | null {
  if (mode === 'h1' || mode === 'h2') {
    const h2 = mode === 'h2';
    return [...head(dir, 1, null), 'http {', ...httpHead(dir),
      `  upstream be { server 127.0.0.1:${upstream}; keepalive 128; }`,
      '  server {',
      `    listen 127.0.0.1:${listen}${h2 ? ' http2' : ''};`,
      h2
        ? '    location / { grpc_pass grpc://be; }'
        : '    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }',
      '  }', '}', ''].join('\n');
  }
  if (streamModule === null) return null;
  const modLine = streamModule === '' ? null : streamModule;
  if (mode === 'tcp') {
    return [...head(dir, 1, modLine), 'stream {', '  server {', `    listen 127.0.0.1:${listen};`, `    proxy_pass 127.0.0.1:${upstream};`, '  }', '}', ''].filter((l) => l !== '').join('\n');
  }
  return [...head(dir, 1, modLine), 'stream {',
    '  map $ssl_preread_server_name $sni_upstream {',
    `    ${sniName} 127.0.0.1:${upstream};`,
    '    default 127.0.0.1:1;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${listen};`,
    '    ssl_preread on;',
    '    proxy_pass $sni_upstream;',
    '  }', '}', ''].filter((l) => l !== '').join('\n');
}
