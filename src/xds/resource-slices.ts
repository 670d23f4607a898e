// xds/: one large resource (a 10,000-route RouteConfiguration) decoded, content-hashed and frozen in slices, so the
// config store's chunked apply can stop between any two elements of its big repeated fields (virtual_hosts, then
// routes) and let the data path run. Each step is a generator that yields between slices; run to completion it
// gives exactly what the one-shot function gives (the same canonical object, digest and freezing).
import { createHash, type Hash } from 'node:crypto';
import protobuf from 'protobufjs';
import { decodeAny, decodeMessageOfType, type Canonical } from './proto-json.js';
import { lookupType, TYPE_URL_PREFIX } from './protos.js';

/** Work that yields between slices and returns T when done; the caller decides when to stop (a deadline). */
export type Slices<T> = Generator<void, T, void>;

/** The repeated message fields, outermost first, along which a resource is cut into slices: e.g. virtual_hosts, routes. */
export type SlicePath = readonly string[];

/** Drives slices to the end in one go (the synchronous callers: bootstrap, static config, tests). */
export function runSlices<T>(g: Slices<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Deterministic JSON for content comparison (sorted keys, Buffers as base64). */
export function stableHash(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Buffer.isBuffer(v)) return `b64:${v.toString('base64')}`;
  if (v instanceof Uint8Array) return `b64:${Buffer.from(v).toString('base64')}`;
  if (Array.isArray(v)) return `[${v.map(stableHash).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableHash((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A short digest of a resource's canonical content (equal content → equal digest); kept per resource instead of
 *  the full stableHash string, which for a big route table or EDS resource is as large as the resource itself. */
export function contentHash(v: unknown): string {
  return createHash('sha256').update(stableHash(v)).digest('base64');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);

/** contentHash(v), feeding the digest the same bytes stableHash(v) would produce, one slice per element of `path`. */
export function* contentHashInSlices(v: unknown, path: SlicePath): Slices<string> {
  const h = createHash('sha256');
  yield* hashInto(h, v, path, 0);
  return h.digest('base64');
}

function* hashInto(h: Hash, v: unknown, path: SlicePath, depth: number): Slices<void> {
  if (depth >= path.length || !isPlainObject(v)) {
    h.update(stableHash(v));
    return;
  }
  const keys = Object.keys(v).sort();
  h.update('{');
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k];
    const x = v[key];
    h.update(`${k > 0 ? ',' : ''}${JSON.stringify(key)}:`);
    if (key === path[depth] && Array.isArray(x)) {
      h.update('[');
      for (let i = 0; i < x.length; i++) {
        if (i > 0) h.update(',');
        yield* hashInto(h, x[i], path, depth + 1);
        yield;
      }
      h.update(']');
    } else h.update(stableHash(x));
  }
  h.update('}');
}

/** Freezes plain data deeply (Buffers and Maps are left alone; frozen subtrees are not walked again). */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !Buffer.isBuffer(o) && !(o instanceof Map)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** deepFreeze(v), one slice per element of `path`. */
export function* freezeInSlices<T>(v: T, path: SlicePath, depth = 0): Slices<T> {
  if (depth < path.length && isPlainObject(v) && !Object.isFrozen(v)) {
    const x = v[path[depth]];
    if (Array.isArray(x)) {
      for (const e of x) {
        yield* freezeInSlices(e, path, depth + 1);
        yield;
      }
    }
  }
  return deepFreeze(v);
}

/**
 * decodeAny(typeUrl, value, path), decoding each element of the `path` fields as its own message (one slice each)
 * and the remaining fields of every level at once; the result has the same fields, in the same order, as the
 * one-shot decode. Malformed input (or anything unexpected) falls back to the one-shot decode, which reports it.
 */
export function* decodeAnyInSlices(typeUrl: string, value: Uint8Array, path: string, slicePath: SlicePath): Slices<Canonical> {
  const t = typeUrl.startsWith(TYPE_URL_PREFIX) ? lookupType(typeUrl) : null;
  // Only a plain message of the type itself (a wrapper such as discovery's Resource goes the one-shot way).
  if (!t || slicePath.length === 0 || !t.fields[slicePath[0]] || t.fullName !== `.${typeUrl.slice(TYPE_URL_PREFIX.length)}`) {
    return decodeAny(typeUrl, value, path);
  }
  try {
    const body = yield* decodeInSlices(t, value, path, slicePath, 0);
    return { '@type': typeUrl, ...body };
  } catch {
    return decodeAny(typeUrl, value, path);
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function* decodeInSlices(t: protobuf.Type, bytes: Uint8Array, path: string, slicePath: SlicePath, depth: number): Slices<Canonical> {
  const field = depth < slicePath.length ? t.fields[slicePath[depth]] : undefined;
  field?.resolve();
  const elemType = field?.resolvedType;
  if (!field || !field.repeated || !(elemType instanceof protobuf.Type)) return decodeMessageOfType(t, bytes, path);
  const cut = cutField(bytes, field.id);
  const rest = decodeMessageOfType(t, cut.rest, path);
  const items: Canonical[] = [];
  const p = join(path, field.name);
  for (let i = 0; i < cut.items.length; i += 2) {
    items.push(yield* decodeInSlices(elemType, bytes.subarray(cut.items[i], cut.items[i + 1]), `${p}[${i >> 1}]`, slicePath, depth + 1));
    yield;
  }
  // Field order as messageToCanonical gives it (the message's declared field order; empty repeated fields absent).
  const out: Canonical = {};
  for (const f of t.fieldsArray) {
    if (f.name === field.name) {
      if (items.length > 0) out[f.name] = items;
    } else if (Object.prototype.hasOwnProperty.call(rest, f.name)) out[f.name] = rest[f.name];
  }
  return out;
}

/**
 * A protobufjs message decoded like `t.decode(bytes)`, with the elements of the repeated message field `field`
 * decoded one per slice (an ADS response carrying 10,000 resources). Falls back to the one-shot decode (which
 * reports malformed input) when the field is not a repeated message or the bytes cannot be cut.
 */
export function* decodeProtoInSlices(t: protobuf.Type, bytes: Uint8Array, field: string): Slices<protobuf.Message> {
  const f = t.fields[field];
  f?.resolve();
  const elemType = f?.resolvedType;
  if (!f || !f.repeated || !(elemType instanceof protobuf.Type)) return t.decode(bytes);
  let cut: { rest: Uint8Array; items: number[] };
  try {
    cut = cutField(bytes, f.id);
  } catch {
    return t.decode(bytes);
  }
  const msg = t.decode(cut.rest) as protobuf.Message & Record<string, unknown>;
  const items: protobuf.Message[] = [];
  for (let i = 0; i < cut.items.length; i += 2) {
    items.push(elemType.decode(bytes.subarray(cut.items[i], cut.items[i + 1])));
    if ((i & 62) === 0) yield;
  }
  if (items.length > 0) msg[f.name] = items;
  return msg;
}

/** The first value of string field `fieldNo` at the top level of a message's wire bytes ('' when absent or when the
 *  bytes cannot be read), without decoding the rest: e.g. an ADS response's type_url (field 4) before its resources. */
export function peekStringField(bytes: Uint8Array, fieldNo: number): string {
  try {
    const r = protobuf.Reader.create(bytes);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const wireType = tag & 7;
      if (tag >>> 3 === fieldNo && wireType === 2) return r.string();
      if (wireType === 3 || wireType === 4) return '';
      r.skipType(wireType);
    }
  } catch {
    /* unreadable: the decode reports it */
  }
  return '';
}

/** The wire bytes of a message split into field `fieldNo`'s elements ([start, end) pairs) and every other field. */
function cutField(bytes: Uint8Array, fieldNo: number): { rest: Uint8Array; items: number[] } {
  const r = protobuf.Reader.create(bytes);
  const rest: Uint8Array[] = [];
  const items: number[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    const wireType = tag & 7;
    if (wireType === 3 || wireType === 4) throw new Error('groups are not sliced');
    if (tag >>> 3 === fieldNo && wireType === 2) {
      const len = r.uint32();
      const s = r.pos;
      r.skip(len);
      items.push(s, s + len);
    } else {
      r.skipType(wireType);
      rest.push(bytes.subarray(start, r.pos));
    }
  }
  return { rest: rest.length === 1 ? rest[0] : Buffer.concat(rest), items };
}
