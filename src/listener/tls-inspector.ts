// listener/: the envoy.filters.listener.tls_inspector listener filter. Parses a TLS ClientHello from the first
// bytes of a connection (without consuming them: the caller replays them) to learn the transport protocol, SNI
// and ALPN that filter-chain selection matches on. Also hosts the small driver that feeds a connection's first
// bytes to the listener filters (tls_inspector, http_inspector) with a bounded wait and a bounded buffer.
import type { Socket } from 'node:net';
import { inspectHttp, type HttpInspectResult } from './http-inspector.js';

/** Envoy's default max_client_hello_size (64 KiB); its initial read buffer is 16 KiB. */
export const MAX_CLIENT_HELLO_SIZE = 64 * 1024;
export const DEFAULT_INITIAL_READ_BUFFER_SIZE = 16 * 1024;
/** Envoy's default listener_filters_timeout. */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

export type TlsInspectResult =
  | { readonly kind: 'need_more' }
  /** Not TLS (or a malformed ClientHello): the connection keeps transport protocol raw_buffer. */
  | { readonly kind: 'not_tls'; readonly reason: string }
  | {
      readonly kind: 'tls';
      /** SNI host name, lower-cased; '' when the client sent none. */
      readonly serverName: string;
      /** ALPN protocols offered, in the client's order. */
      readonly alpn: readonly string[];
      /** Highest version the client offers: 'TLSv1.3' when supported_versions lists 0x0304, else from legacy_version. */
      readonly version: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
      /** Bytes consumed by the records holding the ClientHello. */
      readonly bytes: number;
    };

const NEED_MORE: TlsInspectResult = { kind: 'need_more' };
const notTls = (reason: string): TlsInspectResult => ({ kind: 'not_tls', reason });

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const MAX_RECORD_PAYLOAD = 16384 + 2048;

/**
 * Parses a ClientHello from `buf` (the connection's first bytes so far). The hello may span several TLS records
 * and arrive in any number of TCP segments: 'need_more' until it is complete. Never throws.
 */
export function inspectTls(buf: Buffer, maxClientHelloSize = MAX_CLIENT_HELLO_SIZE): TlsInspectResult {
  // Reassemble the handshake layer from consecutive handshake records.
  let off = 0;
  let hs: Buffer | null = null;
  const parts: Buffer[] = [];
  let hsLen = 0;
  let needed = -1; // total handshake bytes of the ClientHello message (4 + length), once known
  while (true) {
    if (buf.length - off < 1) return NEED_MORE;
    if (buf[off] !== RECORD_HANDSHAKE) return notTls(off === 0 ? 'first byte is not a TLS handshake record' : 'non-handshake record inside ClientHello');
    if (buf.length - off < 2) return NEED_MORE;
    if (buf[off + 1] !== 3) return notTls('bad record version');
    if (buf.length - off < 3) return NEED_MORE;
    if (buf[off + 2] > 4) return notTls('bad record version');
    if (buf.length - off < 5) return NEED_MORE;
    const recLen = buf.readUInt16BE(off + 3);
    if (recLen === 0 || recLen > MAX_RECORD_PAYLOAD) return notTls('bad record length');
    if (off === 0 && buf.length >= 6 && buf[5] !== HANDSHAKE_CLIENT_HELLO) return notTls('first handshake message is not a ClientHello');
    if (buf.length - off - 5 < recLen) {
      if (off + 5 + recLen > maxClientHelloSize + 5 * 8) return notTls('ClientHello exceeds max_client_hello_size');
      return NEED_MORE;
    }
    parts.push(buf.subarray(off + 5, off + 5 + recLen));
    hsLen += recLen;
    off += 5 + recLen;
    if (needed < 0 && hsLen >= 4) {
      const head = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return notTls('first handshake message is not a ClientHello');
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > maxClientHelloSize) return notTls('ClientHello exceeds max_client_hello_size');
    }
    if (needed >= 0 && hsLen >= needed) {
      hs = parts.length === 1 ? parts[0] : Buffer.concat(parts, hsLen);
      break;
    }
  }
  return parseClientHello(hs.subarray(4, needed), off);
}

function parseClientHello(b: Buffer, bytes: number): TlsInspectResult {
  let p = 0;
  const need = (n: number): boolean => p + n <= b.length;
  if (!need(2 + 32 + 1)) return notTls('truncated ClientHello');
  const legacy = b.readUInt16BE(p);
  p += 2 + 32;
  const sidLen = b[p];
  p += 1;
  if (sidLen > 32 || !need(sidLen + 2)) return notTls('bad session id');
  p += sidLen;
  const csLen = b.readUInt16BE(p);
  p += 2;
  if (csLen < 2 || csLen % 2 !== 0 || !need(csLen + 1)) return notTls('bad cipher suites');
  p += csLen;
  const compLen = b[p];
  p += 1;
  if (compLen < 1 || !need(compLen)) return notTls('bad compression methods');
  p += compLen;
  let serverName = '';
  const alpn: string[] = [];
  let tls13 = false;
  if (p < b.length) {
    if (!need(2)) return notTls('truncated extensions');
    const extTotal = b.readUInt16BE(p);
    p += 2;
    if (!need(extTotal)) return notTls('truncated extensions');
    const end = p + extTotal;
    while (p < end) {
      if (p + 4 > end) return notTls('truncated extension header');
      const type = b.readUInt16BE(p);
      const len = b.readUInt16BE(p + 2);
      p += 4;
      if (p + len > end) return notTls('truncated extension');
      const ext = b.subarray(p, p + len);
      p += len;
      if (type === EXT_SERVER_NAME) {
        const name = parseSni(ext);
        if (name === null) return notTls('malformed server_name extension');
        serverName = name;
      } else if (type === EXT_ALPN) {
        if (!parseAlpn(ext, alpn)) return notTls('malformed ALPN extension');
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        if (ext.length < 1 || ext[0] + 1 > ext.length) return notTls('malformed supported_versions extension');
        for (let i = 1; i + 1 < 1 + ext[0]; i += 2) if (ext.readUInt16BE(i) === 0x0304) tls13 = true;
      }
    }
  }
  const version = tls13 ? 'TLSv1.3' : legacy >= 0x0303 ? 'TLSv1.2' : legacy === 0x0302 ? 'TLSv1.1' : 'TLSv1';
  return { kind: 'tls', serverName, alpn, version, bytes };
}

function parseSni(ext: Buffer): string | null {
  if (ext.length === 0) return ''; // a server's empty acknowledgement; not expected from a client but harmless
  if (ext.length < 2) return null;
  const listLen = ext.readUInt16BE(0);
  if (listLen + 2 > ext.length) return null;
  let p = 2;
  while (p < 2 + listLen) {
    if (p + 3 > ext.length) return null;
    const nameType = ext[p];
    const len = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + len > ext.length) return null;
    if (nameType === 0) return ext.toString('latin1', p, p + len).toLowerCase();
    p += len;
  }
  return '';
}

function parseAlpn(ext: Buffer, out: string[]): boolean {
  if (ext.length < 2) return false;
  const listLen = ext.readUInt16BE(0);
  if (listLen + 2 > ext.length) return false;
  let p = 2;
  while (p < 2 + listLen) {
    const len = ext[p];
    if (len === 0 || p + 1 + len > 2 + listLen) return false;
    out.push(ext.toString('latin1', p + 1, p + 1 + len));
    p += 1 + len;
  }
  return true;
}

/** What the listener filters learned about a connection, plus the bytes they read (to replay upstream). */
export interface InspectedConnection {
  /** 'tls' when a ClientHello was seen, else 'raw_buffer' (Envoy's default). */
  readonly transportProtocol: 'tls' | 'raw_buffer';
  /** SNI, '' when none. */
  readonly serverName: string;
  /** ALPN from the ClientHello, or the protocol http_inspector detected (['h2c'], ['http/1.1'], ['http/1.0']). */
  readonly applicationProtocols: readonly string[];
  /** Bytes read from the socket while inspecting; the next filter must see them first. */
  readonly peeked: Buffer;
  /** The client ended its side (or the socket closed) before inspection finished. */
  readonly ended: boolean;
  /** The listener filter timeout fired before every inspector decided. */
  readonly timedOut: boolean;
}

export interface InspectOptions {
  readonly tlsInspector: boolean;
  readonly httpInspector: boolean;
  /** listener_filters_timeout; 0 disables the timeout. Default 15 s. */
  readonly timeoutMs?: number;
  /** Cap on bytes read while inspecting (max_client_hello_size). Default 64 KiB. */
  readonly maxBytes?: number;
}

/** Evaluates the enabled inspectors over the bytes so far; null while any of them needs more. */
function evaluate(buf: Buffer, opts: InspectOptions, final: boolean): Omit<InspectedConnection, 'peeked' | 'ended' | 'timedOut'> | null {
  let tls: TlsInspectResult = notTls('tls_inspector not configured');
  if (opts.tlsInspector) {
    tls = inspectTls(buf, opts.maxBytes ?? MAX_CLIENT_HELLO_SIZE);
    if (tls.kind === 'need_more' && !final) return null;
  }
  if (tls.kind === 'tls') return { transportProtocol: 'tls', serverName: tls.serverName, applicationProtocols: tls.alpn };
  let http: HttpInspectResult = { kind: 'not_http' };
  if (opts.httpInspector) {
    http = inspectHttp(buf);
    if (http.kind === 'need_more' && !final) return null;
  }
  return {
    transportProtocol: 'raw_buffer',
    serverName: '',
    applicationProtocols: http.kind === 'http' ? [http.protocol] : [],
  };
}

/**
 * Runs the listener filters over a freshly accepted socket: reads (and keeps) its first bytes until every
 * enabled inspector has decided, the byte cap is hit, the client ends, or the timeout fires. The socket is left
 * paused with no 'data' listener; the caller must replay `peeked` before piping the rest.
 * Resolves immediately (with nothing read) when no inspector is enabled.
 */
export function inspectConnection(socket: Socket, opts: InspectOptions): Promise<InspectedConnection> {
  const empty = Buffer.alloc(0);
  if (!opts.tlsInspector && !opts.httpInspector) {
    return Promise.resolve({ transportProtocol: 'raw_buffer', serverName: '', applicationProtocols: [], peeked: empty, ended: false, timedOut: false });
  }
  const maxBytes = opts.maxBytes ?? MAX_CLIENT_HELLO_SIZE;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (ended: boolean, timedOut: boolean): void => {
      if (done) return;
      done = true;
      socket.pause();
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.removeListener('error', onEnd);
      if (timer) clearTimeout(timer);
      const peeked = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      const r = evaluate(peeked, opts, true)!;
      resolve({ ...r, peeked, ended, timedOut });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      if (chunks.length > 1) { chunks.length = 0; chunks.push(buf); }
      if (size >= maxBytes || evaluate(buf, opts, false) !== null) finish(false, false);
    };
    const onEnd = (): void => finish(true, false);
    // The caller's own 'error' handler (if any) still sees errors; ours only stops inspection.
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
    if (timeoutMs > 0) {
      timer = setTimeout(() => finish(false, true), timeoutMs);
      timer.unref();
    }
    socket.resume();
  });
}
