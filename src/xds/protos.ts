// xds/: loads the Envoy v3 API protos (shipped by @grpc/grpc-js-xds under deps/) into one protobufjs Root, once.
// Everything that decodes or encodes an Envoy message asks this module for its Type.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

let cachedRoot: protobuf.Root | null = null;

/** Directory holding the repo's own proto/ folder (works from src/ under ts and from dist/src/ compiled). */
function repoProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'envoy-protos.txt'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('meshlet: cannot find proto/envoy-protos.txt');
}

function includeRoots(): string[] {
  const pkg = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const deps = join(pkg, 'deps');
  return [repoProtoDir(), join(deps, 'envoy-api'), join(deps, 'xds'), join(deps, 'googleapis'), join(deps, 'protoc-gen-validate')];
}

let descriptorRegistered = false;

/** The shared Root with every Envoy type meshlet understands. Loaded synchronously on first use (~0.2 s). */
export function protoRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  if (!descriptorRegistered) {
    // Envoy's annotation protos extend google.protobuf.*Options; protobufjs ships descriptor.proto as JSON.
    const descriptor = require('protobufjs/google/protobuf/descriptor.json');
    protobuf.common('descriptor', descriptor.nested.google.nested.protobuf.nested);
    descriptorRegistered = true;
  }
  const roots = includeRoots();
  const root = new protobuf.Root();
  root.resolvePath = (origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    for (const inc of roots) {
      const p = join(inc, target);
      if (existsSync(p)) return p;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  const listFile = join(roots[0], 'envoy-protos.txt');
  const files = readFileSync(listFile, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const ownList = join(roots[0], 'meshlet-protos.txt');
  if (existsSync(ownList)) {
    files.push(...readFileSync(ownList, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  for (const f of files) root.loadSync((root.resolvePath('', f) as string), { keepCase: true });
  root.resolveAll();
  stripOptions(root);
  cachedRoot = root;
  return root;
}

type Reflected = protobuf.ReflectionObject & {
  fieldsArray?: protobuf.ReflectionObject[];
  oneofsArray?: protobuf.ReflectionObject[];
  nestedArray?: protobuf.ReflectionObject[];
  methodsArray?: protobuf.ReflectionObject[];
  valuesOptions?: unknown;
};

/**
 * Drops descriptor options (validate rules, UDPA/xDS annotations) once every type is resolved: they hold about
 * 1.3 MB of heap for the process lifetime (1,186 of 4,209 reflection objects carry some). The one option meshlet
 * reads — `deprecated` (route-check's deprecation check) — is kept.
 */
function stripOptions(obj: Reflected): void {
  const deprecated = (obj.options as Record<string, unknown> | undefined)?.deprecated === true;
  obj.options = deprecated ? { deprecated: true } : undefined;
  obj.parsedOptions = undefined as unknown as typeof obj.parsedOptions;
  if (obj.valuesOptions !== undefined) obj.valuesOptions = undefined;
  for (const list of [obj.fieldsArray, obj.oneofsArray, obj.nestedArray, obj.methodsArray]) {
    if (list) for (const child of list) stripOptions(child as Reflected);
  }
}

/** Looks up a message type by full name or type URL; null when meshlet does not know it. */
export function lookupType(nameOrUrl: string): protobuf.Type | null {
  const name = nameOrUrl.startsWith(TYPE_URL_PREFIX) ? nameOrUrl.slice(TYPE_URL_PREFIX.length) : nameOrUrl.replace(/^.*\//, '');
  try {
    return protoRoot().lookupType(name);
  } catch {
    return null;
  }
}

export function mustLookupType(name: string): protobuf.Type {
  const t = lookupType(name);
  if (!t) throw new Error(`meshlet: proto type ${name} is not loaded`);
  return t;
}

/** Absolute paths of the proto include roots (for @grpc/proto-loader users such as test servers). */
export function protoIncludeDirs(): string[] {
  return includeRoots().map((r) => resolve(r));
}
