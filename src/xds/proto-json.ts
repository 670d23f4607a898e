// xds/: schema-driven conversion between protobuf encodings and meshlet's "canonical object" form.
//
// Every Envoy message that enters meshlet (xDS binary Any, bootstrap YAML/JSON, filesystem subscription files)
// is turned into ONE canonical shape that the resource translators read:
//   - field names in snake_case (proto names), only fields that are set;
//   - enums as their string names; 64-bit integers as numbers when safe, decimal strings otherwise;
//   - google.protobuf.Duration as milliseconds (number), Timestamp as epoch milliseconds;
//   - wrapper types (UInt32Value, BoolValue, ...) as their plain scalar; Struct/Value/ListValue as plain JSON;
//   - bytes as Buffer; maps as plain objects;
//   - Any as { '@type': typeUrl, ...canonical fields of the packed message } (TypedStruct is unwrapped
//     into its target type). An Any whose type meshlet does not know is an error, never an empty message.
import protobuf from 'protobufjs';
import { lookupType, TYPE_URL_PREFIX } from './protos.js';

export type Canonical = Record<string, unknown>;

/** Thrown for data that cannot be converted; `path` names the field (e.g. `filter_chains[0].filters[1].typed_config`). */
export class ProtoConversionError extends Error {
  readonly code = 'PROTO_CONVERSION';
  constructor(readonly path: string, readonly detail: string) {
    super(path ? `${path}: ${detail}` : detail);
  }
}

export interface JsonOptions {
  /** Reject fields the schema does not know (route-check does); otherwise they are collected into `unknownFields`. */
  rejectUnknown?: boolean;
  /** Where tolerated unknown field paths are reported. */
  unknownFields?: string[];
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value', 'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value', 'google.protobuf.UInt32Value', 'google.protobuf.BoolValue', 'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);
const TYPED_STRUCTS = new Set(['udpa.type.v1.TypedStruct', 'xds.type.v3.TypedStruct']);
const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);

/** Type/enum names without the leading dot, cached: protobufjs's `fullName` getter walks and joins the parent chain
 *  on every read, and decoding reads it once per message (a third of EDS decode time at 100,000 endpoints). */
const fullNames = new WeakMap<protobuf.Type | protobuf.Enum, string>();
function fullName(t: protobuf.Type | protobuf.Enum): string {
  let n = fullNames.get(t);
  if (n === undefined) {
    const f = t.fullName;
    n = f.startsWith('.') ? f.slice(1) : f;
    fullNames.set(t, n);
  }
  return n;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();
function fieldsByAnyName(t: protobuf.Type): Map<string, protobuf.Field> {
  let m = fieldIndex.get(t);
  if (!m) {
    m = new Map();
    for (const f of t.fieldsArray) {
      f.resolve();
      m.set(f.name, f);
      m.set(camel(f.name), f);
    }
    fieldIndex.set(t, m);
  }
  return m;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function toSafeNumber(v: unknown, path: string, unsigned: boolean): number | string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ProtoConversionError(path, `expected an integer, got ${v}`);
    if (unsigned && v < 0) throw new ProtoConversionError(path, `expected an unsigned integer, got ${v}`);
    return v;
  }
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) {
    const s = v.trim();
    if (unsigned && s.startsWith('-')) throw new ProtoConversionError(path, `expected an unsigned integer, got ${v}`);
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s).toString();
  }
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v && typeof v === 'object' && 'low' in (v as any) && 'high' in (v as any)) {
    const l = v as protobuf.Long;
    const s = (l as any).toString();
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : s;
  }
  throw new ProtoConversionError(path, `expected an integer, got ${JSON.stringify(v)}`);
}

/** Parses a protobuf JSON Duration ("1.5s", "0s", "300ms" tolerated) or {seconds, nanos} into milliseconds. */
export function parseDurationMs(v: unknown, path = ''): number {
  if (typeof v === 'string') {
    const s = v.trim();
    let m = /^(-?\d+(?:\.\d+)?)s$/.exec(s);
    if (m) return Number(m[1]) * 1000;
    m = /^(-?\d+(?:\.\d+)?)ms$/.exec(s);
    if (m) return Number(m[1]);
    throw new ProtoConversionError(path, `invalid duration ${JSON.stringify(v)} (expected e.g. "1.5s")`);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1000; // a bare number means seconds
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const seconds = o.seconds === undefined ? 0 : Number(toSafeNumber(o.seconds, join(path, 'seconds'), false));
    const nanos = o.nanos === undefined ? 0 : Number(o.nanos);
    if (!Number.isFinite(nanos)) throw new ProtoConversionError(join(path, 'nanos'), 'invalid nanos');
    return seconds * 1000 + nanos / 1e6;
  }
  throw new ProtoConversionError(path, `invalid duration ${JSON.stringify(v)}`);
}

export function formatDurationMs(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : Number(s.toFixed(9))}s`;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON / YAML (proto3 JSON mapping, lenient) → canonical
// ---------------------------------------------------------------------------------------------------------------

/** Converts a proto3-JSON value (from YAML or JSON, snake_case or lowerCamelCase keys) of message `typeName` to canonical form. */
export function jsonToCanonical(typeName: string | protobuf.Type, json: unknown, path = '', opts: JsonOptions = {}): Canonical {
  const t = typeof typeName === 'string' ? lookupType(typeName) : typeName;
  if (!t) throw new ProtoConversionError(path, `unknown message type ${String(typeName)}`);
  const v = messageFromJson(t, json, path, opts);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ProtoConversionError(path, `expected an object for ${fullName(t)}`);
  }
  return v as Canonical;
}

function messageFromJson(t: protobuf.Type, json: unknown, path: string, opts: JsonOptions): unknown {
  const name = fullName(t);
  switch (name) {
    case 'google.protobuf.Duration':
      return parseDurationMs(json, path);
    case 'google.protobuf.Timestamp': {
      if (typeof json !== 'string') throw new ProtoConversionError(path, 'expected an RFC 3339 timestamp string');
      const ms = Date.parse(json);
      if (Number.isNaN(ms)) throw new ProtoConversionError(path, `invalid timestamp ${JSON.stringify(json)}`);
      return ms;
    }
    case 'google.protobuf.Struct':
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ProtoConversionError(path, 'expected an object (Struct)');
      return json;
    case 'google.protobuf.Value':
      return json;
    case 'google.protobuf.ListValue':
      if (!Array.isArray(json)) throw new ProtoConversionError(path, 'expected a list (ListValue)');
      return json;
    case 'google.protobuf.Any':
      return anyFromJson(json, path, opts);
    case 'google.protobuf.FieldMask':
      if (typeof json === 'string') return { paths: json.split(',').filter(Boolean) };
      break;
    case 'google.protobuf.Empty':
      return {};
  }
  if (WRAPPERS.has(name)) {
    const inner = json !== null && typeof json === 'object' && !Array.isArray(json) && 'value' in (json as object) ? (json as any).value : json;
    const valueField = t.fields.value;
    valueField.resolve();
    return scalarFromJson(valueField, inner, path);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ProtoConversionError(path, `expected an object for ${name}, got ${Array.isArray(json) ? 'a list' : JSON.stringify(json)}`);
  }
  const out: Canonical = {};
  const fields = fieldsByAnyName(t);
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const f = fields.get(key);
    const p = join(path, key);
    if (!f) {
      if (opts.rejectUnknown) throw new ProtoConversionError(p, `unknown field "${key}" in ${name}`);
      opts.unknownFields?.push(p);
      continue;
    }
    if (value === null && !(f.resolvedType && fullName(f.resolvedType) === 'google.protobuf.Value')) continue;
    const fp = join(path, f.name);
    if (f.map) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProtoConversionError(fp, 'expected an object (map)');
      const m: Record<string, unknown> = {};
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) m[mk] = fieldValueFromJson(f, mv, join(fp, mk), opts);
      out[f.name] = m;
    } else if (f.repeated) {
      // Lenient like Envoy's YAML loader for published examples: a single object where a list is expected is a list of one.
      const list = Array.isArray(value) ? value : [value];
      out[f.name] = list.map((item, i) => fieldValueFromJson(f, item, `${fp}[${i}]`, opts));
    } else {
      out[f.name] = fieldValueFromJson(f, value, fp, opts);
    }
  }
  return out;
}

function fieldValueFromJson(f: protobuf.Field, v: unknown, path: string, opts: JsonOptions): unknown {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return messageFromJson(rt, v, path, opts);
  if (rt instanceof protobuf.Enum) return enumFromJson(rt, v, path);
  return scalarFromJson(f, v, path);
}

function enumFromJson(e: protobuf.Enum, v: unknown, path: string): string | number {
  if (typeof v === 'number') return e.valuesById[v] ?? v;
  if (typeof v === 'string') {
    if (v in e.values) return v;
    const upper = v.toUpperCase();
    if (upper in e.values) return upper;
    throw new ProtoConversionError(path, `invalid value ${JSON.stringify(v)} for enum ${fullName(e)} (one of ${Object.keys(e.values).join(', ')})`);
  }
  if (typeof v === 'boolean') throw new ProtoConversionError(path, `invalid value ${v} for enum ${fullName(e)}`);
  throw new ProtoConversionError(path, `invalid value ${JSON.stringify(v)} for enum ${fullName(e)}`);
}

function scalarFromJson(f: protobuf.Field, v: unknown, path: string): unknown {
  const type = f.type;
  if (type === 'string') {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v); // YAML turns "80" into 80
    throw new ProtoConversionError(path, `expected a string, got ${JSON.stringify(v)}`);
  }
  if (type === 'bool') {
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new ProtoConversionError(path, `expected a boolean, got ${JSON.stringify(v)}`);
  }
  if (INT32_TYPES.has(type)) {
    const n = toSafeNumber(v, path, type.startsWith('u') || type === 'fixed32');
    if (typeof n !== 'number' || n > 4294967295 || n < -2147483648) throw new ProtoConversionError(path, `integer ${String(v)} out of range for ${type}`);
    if (!type.startsWith('u') && type !== 'fixed32' && n > 2147483647) throw new ProtoConversionError(path, `integer ${String(v)} out of range for ${type}`);
    return n;
  }
  if (INT64_TYPES.has(type)) return toSafeNumber(v, path, type.startsWith('u') || type === 'fixed64');
  if (type === 'double' || type === 'float') {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
    throw new ProtoConversionError(path, `expected a number, got ${JSON.stringify(v)}`);
  }
  if (type === 'bytes') {
    if (typeof v === 'string') return Buffer.from(v, 'base64');
    if (v instanceof Uint8Array) return Buffer.from(v);
    throw new ProtoConversionError(path, 'expected base64 bytes');
  }
  throw new ProtoConversionError(path, `unsupported scalar type ${type}`);
}

function anyFromJson(json: unknown, path: string, opts: JsonOptions): Canonical {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ProtoConversionError(path, 'expected an object with "@type" (Any)');
  const o = json as Record<string, unknown>;
  const url = o['@type'];
  if (typeof url !== 'string' || !url) throw new ProtoConversionError(join(path, '@type'), 'Any is missing "@type"');
  const inner = lookupType(url);
  if (!inner) throw new ProtoConversionError(join(path, '@type'), `unknown type ${url}`);
  const innerName = fullName(inner);
  const { '@type': _t, ...rest } = o;
  if (TYPED_STRUCTS.has(innerName)) {
    const target = rest.type_url ?? rest.typeUrl;
    if (typeof target !== 'string') throw new ProtoConversionError(join(path, 'type_url'), 'TypedStruct is missing type_url');
    return anyFromJson({ ...(rest.value as object ?? {}), '@type': target }, path, opts);
  }
  const isWkt = innerName.startsWith('google.protobuf.') && !['google.protobuf.Empty'].includes(innerName);
  const body = isWkt ? messageFromJson(inner, rest.value, join(path, 'value'), opts) : messageFromJson(inner, rest, path, opts);
  if (isWkt) return { '@type': canonicalTypeUrl(innerName), value: body };
  return { '@type': canonicalTypeUrl(innerName), ...(body as Canonical) };
}

function canonicalTypeUrl(name: string): string {
  return TYPE_URL_PREFIX + name;
}

// ---------------------------------------------------------------------------------------------------------------
// binary (protobuf wire) → canonical
// ---------------------------------------------------------------------------------------------------------------

/** Decodes the binary body of an Any (type URL + bytes) into canonical form; unknown types are an error. */
export function decodeAny(typeUrl: string, value: Uint8Array, path = ''): Canonical {
  const t = lookupType(typeUrl);
  if (!t) throw new ProtoConversionError(path, `unknown type ${typeUrl}`);
  let msg: protobuf.Message;
  try {
    msg = t.decode(value);
  } catch (e) {
    throw new ProtoConversionError(path, `cannot decode ${typeUrl}: ${(e as Error).message}`);
  }
  const name = fullName(t);
  if (TYPED_STRUCTS.has(name)) {
    const m = msg as any;
    const target = lookupType(m.type_url);
    if (!target) throw new ProtoConversionError(join(path, 'type_url'), `unknown type ${m.type_url}`);
    const json = m.value ? structToJson(m.value) : {};
    return { '@type': canonicalTypeUrl(fullName(target)), ...jsonToCanonical(target, json, path) };
  }
  const body = messageToCanonical(t, msg, path);
  if (name.startsWith('google.protobuf.') && name !== 'google.protobuf.Empty') return { '@type': canonicalTypeUrl(name), value: body };
  return { '@type': canonicalTypeUrl(name), ...(body as Canonical) };
}

/** Decodes a whole message of the given type from bytes into canonical form. */
export function decodeMessage(typeName: string, bytes: Uint8Array, path = ''): Canonical {
  const t = lookupType(typeName);
  if (!t) throw new ProtoConversionError(path, `unknown type ${typeName}`);
  return messageToCanonical(t, t.decode(bytes), path) as Canonical;
}

/** Decodes a whole message of a resolved type from bytes into canonical form (errors from protobufjs are thrown as
 *  they come; decodeAny wraps them). Used by the sliced decoder (resource-slices.ts) for each element it cuts out. */
export function decodeMessageOfType(t: protobuf.Type, bytes: Uint8Array, path = ''): Canonical {
  return messageToCanonical(t, t.decode(bytes), path) as Canonical;
}

function structToJson(s: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s && s.fields) for (const [k, v] of Object.entries(s.fields)) out[k] = valueToJson(v);
  return out;
}
function valueToJson(v: any): unknown {
  // protobufjs's bundled struct.proto uses lowerCamelCase field names (numberValue, structValue, ...).
  if (!v) return null;
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(v, k);
  if (has('numberValue') || has('number_value')) return v.numberValue ?? v.number_value;
  if (has('stringValue') || has('string_value')) return v.stringValue ?? v.string_value;
  if (has('boolValue') || has('bool_value')) return v.boolValue ?? v.bool_value;
  if (has('structValue') || has('struct_value')) return structToJson(v.structValue ?? v.struct_value);
  if (has('listValue') || has('list_value')) return ((v.listValue ?? v.list_value)?.values ?? []).map(valueToJson);
  return null;
}

function messageToCanonical(t: protobuf.Type, msg: any, path: string): unknown {
  const name = fullName(t);
  switch (name) {
    case 'google.protobuf.Duration': {
      const s = msg.seconds === undefined ? 0 : Number(toSafeNumber(msg.seconds, path, false));
      return s * 1000 + (msg.nanos ?? 0) / 1e6;
    }
    case 'google.protobuf.Timestamp': {
      const s = msg.seconds === undefined ? 0 : Number(toSafeNumber(msg.seconds, path, false));
      return s * 1000 + (msg.nanos ?? 0) / 1e6;
    }
    case 'google.protobuf.Struct': return structToJson(msg);
    case 'google.protobuf.Value': return valueToJson(msg);
    case 'google.protobuf.ListValue': return (msg.values ?? []).map(valueToJson);
    case 'google.protobuf.Any': return decodeAny(msg.type_url, msg.value ?? new Uint8Array(), path);
  }
  if (WRAPPERS.has(name)) {
    const f = t.fields.value;
    f.resolve();
    const v = Object.prototype.hasOwnProperty.call(msg, 'value') ? msg.value : defaultScalar(f);
    return scalarToCanonical(f, v, path);
  }
  const out: Canonical = {};
  for (const f of t.fieldsArray) {
    if (!Object.prototype.hasOwnProperty.call(msg, f.name)) continue;
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const p = join(path, f.name);
    if (f.map) {
      const keys = Object.keys(v);
      if (keys.length === 0) continue;
      const m: Record<string, unknown> = {};
      for (const k of keys) m[k] = fieldValueToCanonical(f, v[k], join(p, k));
      out[f.name] = m;
    } else if (f.repeated) {
      if (!Array.isArray(v) || v.length === 0) continue;
      out[f.name] = v.map((item: unknown, i: number) => fieldValueToCanonical(f, item, `${p}[${i}]`));
    } else {
      out[f.name] = fieldValueToCanonical(f, v, p);
    }
  }
  return out;
}

function defaultScalar(f: protobuf.Field): unknown {
  if (f.type === 'string') return '';
  if (f.type === 'bool') return false;
  if (f.type === 'bytes') return Buffer.alloc(0);
  return 0;
}

function fieldValueToCanonical(f: protobuf.Field, v: unknown, path: string): unknown {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return messageToCanonical(rt, v, path);
  if (rt instanceof protobuf.Enum) return typeof v === 'number' ? (rt.valuesById[v] ?? v) : v;
  return scalarToCanonical(f, v, path);
}

function scalarToCanonical(f: protobuf.Field, v: unknown, path: string): unknown {
  if (INT64_TYPES.has(f.type)) return toSafeNumber(v, path, false);
  if (f.type === 'bytes') return Buffer.from(v as Uint8Array);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// canonical → binary (for test servers, config files written by tools) and canonical → proto3 JSON (config_dump)
// ---------------------------------------------------------------------------------------------------------------

/** Encodes a canonical object (or proto3 JSON, which is converted first) of `typeName` into protobuf bytes. */
export function encodeMessage(typeName: string, value: Canonical): Uint8Array {
  const t = lookupType(typeName);
  if (!t) throw new ProtoConversionError('', `unknown type ${typeName}`);
  const obj = canonicalToPbObject(t, value);
  return t.encode(t.fromObject(obj as Record<string, unknown>)).finish();
}

/** Packs a canonical message carrying '@type' into an Any { type_url, value }. */
export function encodeAny(value: Canonical): { type_url: string; value: Uint8Array } {
  const url = value['@type'];
  if (typeof url !== 'string') throw new ProtoConversionError('@type', 'missing @type');
  const t = lookupType(url);
  if (!t) throw new ProtoConversionError('@type', `unknown type ${url}`);
  const { '@type': _u, ...rest } = value;
  const name = fullName(t);
  const body = name.startsWith('google.protobuf.') && 'value' in rest ? (rest.value as any) : rest;
  const obj = canonicalToPbObject(t, body);
  return { type_url: url, value: t.encode(t.fromObject(obj as Record<string, unknown>)).finish() };
}

function jsonToStruct(o: Record<string, unknown>): unknown {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = jsonToValue(v);
  return { fields };
}
function jsonToValue(v: unknown): unknown {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}

function msToDurationObj(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.trunc(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return { seconds, nanos };
}

function canonicalToPbObject(t: protobuf.Type, v: unknown): unknown {
  const name = fullName(t);
  switch (name) {
    case 'google.protobuf.Duration':
    case 'google.protobuf.Timestamp':
      return msToDurationObj(Number(v));
    case 'google.protobuf.Struct': return jsonToStruct(v as Record<string, unknown>);
    case 'google.protobuf.Value': return jsonToValue(v);
    case 'google.protobuf.ListValue': return { values: (v as unknown[]).map(jsonToValue) };
    case 'google.protobuf.Any': return encodeAny(v as Canonical);
  }
  if (WRAPPERS.has(name)) return { value: v };
  const out: Record<string, unknown> = {};
  const fields = fieldsByAnyName(t);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const f = fields.get(k);
    if (!f || val === undefined) continue;
    const rt = f.resolvedType;
    const conv = (x: unknown): unknown => (rt instanceof protobuf.Type ? canonicalToPbObject(rt, x) : x);
    if (f.map) {
      const m: Record<string, unknown> = {};
      for (const [mk, mv] of Object.entries(val as Record<string, unknown>)) m[mk] = conv(mv);
      out[f.name] = m;
    } else if (f.repeated) out[f.name] = (val as unknown[]).map(conv);
    else out[f.name] = conv(val);
  }
  return out;
}

/** Renders a canonical message as proto3 JSON with proto field names (Envoy's config_dump style). */
export function canonicalToJson(typeName: string, v: Canonical): Record<string, unknown> {
  const t = lookupType(typeName);
  if (!t) throw new ProtoConversionError('', `unknown type ${typeName}`);
  return toJson(t, v) as Record<string, unknown>;
}

function toJson(t: protobuf.Type, v: unknown): unknown {
  const name = fullName(t);
  switch (name) {
    case 'google.protobuf.Duration': return formatDurationMs(Number(v));
    case 'google.protobuf.Timestamp': return new Date(Number(v)).toISOString();
    case 'google.protobuf.Struct':
    case 'google.protobuf.Value':
    case 'google.protobuf.ListValue':
      return v;
    case 'google.protobuf.Any': {
      const o = v as Canonical;
      const inner = lookupType(String(o['@type']));
      if (!inner) return o;
      const { '@type': url, ...rest } = o;
      if (fullName(inner).startsWith('google.protobuf.') && 'value' in rest) return { '@type': url, value: toJson(inner, rest.value) };
      return { '@type': url, ...(toJson(inner, rest) as object) };
    }
  }
  if (WRAPPERS.has(name)) return Buffer.isBuffer(v) ? v.toString('base64') : v;
  const out: Record<string, unknown> = {};
  const fields = fieldsByAnyName(t);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const f = fields.get(k);
    if (!f) { out[k] = val; continue; }
    const rt = f.resolvedType;
    const conv = (x: unknown): unknown => {
      if (rt instanceof protobuf.Type) return toJson(rt, x);
      if (Buffer.isBuffer(x)) return x.toString('base64');
      if (INT64_TYPES.has(f.type)) return String(x);
      return x;
    };
    if (f.map) {
      const m: Record<string, unknown> = {};
      for (const [mk, mv] of Object.entries(val as Record<string, unknown>)) m[mk] = conv(mv);
      out[f.name] = m;
    } else if (f.repeated) out[f.name] = (val as unknown[]).map(conv);
    else out[f.name] = conv(val);
  }
  return out;
}
