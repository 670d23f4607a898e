// network/tcp-proxy/: lets tcp_proxy read an accepted downstream socket the way net.connect({ onread }) reads a
// client socket: into a caller-owned buffer, delivered to a callback, with no Buffer, Readable push or 'data' event
// per read. node:net has no such option for accepted sockets, so this sets the same per-socket fields its
// constructor sets for `onread` (found once by their symbol descriptions) and switches the handle to the user
// buffer. When this Node version lacks them, adoptReadBuffer returns false and the caller keeps 'data' events.
import net from 'node:net';

interface ReadBufferSymbols {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

interface UserBufferHandle {
  readonly reading?: boolean;
  useUserBuffer?: (buf: Uint8Array) => void;
}

let symbols: ReadBufferSymbols | null | undefined;

function readBufferSymbols(): ReadBufferSymbols | null {
  if (symbols !== undefined) return symbols;
  // SocketConstructorOpts does not declare onread, but the constructor reads it (net.connect passes it through).
  const opts = { onread: { buffer: (): Buffer => Buffer.allocUnsafe(1), callback: (): boolean => true } };
  const probe = new net.Socket(opts as net.SocketConstructorOpts);
  const own = Object.getOwnPropertySymbols(probe);
  const find = (description: string): symbol | undefined => own.find((s) => s.description === description);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  probe.destroy();
  symbols = buffer && callback && generator ? { buffer, callback, generator } : null;
  return symbols;
}

/**
 * Switches `socket` to onread mode: from its next read on, bytes land in the buffer `next()` returns (asked before
 * every read) and `onRead(n, buf)` receives them; returning false stops reading until `socket.resume()`. EOF still
 * ends the socket ('end'). Returns false, changing nothing, when the socket already holds unread bytes, has 'data'
 * listeners, or this Node version does not have the fields.
 */
export function adoptReadBuffer(socket: net.Socket, next: () => Buffer, onRead: (n: number, buf: Buffer) => boolean): boolean {
  const s = readBufferSymbols();
  const handle = (socket as net.Socket & { _handle?: UserBufferHandle | null })._handle;
  if (s === null || !handle || typeof handle.useUserBuffer !== 'function') return false;
  if (socket.readableLength > 0 || socket.listenerCount('data') > 0 || socket.destroyed) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  const first = next();
  fields[s.buffer] = first;
  fields[s.callback] = onRead;
  fields[s.generator] = next;
  handle.useUserBuffer(first);
  return true;
}
