// test support: a throwaway PKI made with the openssl CLI — one CA and a leaf certificate per name (SAN DNS or IP),
// for TLS tests of any slice. Files live in a temp dir; call cleanup() (or rely on the OS temp cleaner).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestCerts {
  readonly dir: string;
  readonly caPem: string;
  readonly caFile: string;
  certFor(name: string): CertPair;
  cleanup(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 30_000 });
}

/** Generates a CA and one server/client certificate per name (CN and SAN = name). Needs the openssl CLI. */
export async function makeCerts(names: readonly string[]): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-certs-'));
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=meshlet test CA', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const pairs = new Map<string, CertPair>();
  let i = 0;
  for (const name of names) {
    const base = `leaf${i++}`;
    const san = isIP(name) ? `IP:${name}` : `DNS:${name}`;
    await writeFile(join(dir, `${base}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`);
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.key`], dir);
    await openssl(['req', '-new', '-key', `${base}.key`, '-subj', `/CN=${name.slice(0, 64)}`, '-out', `${base}.csr`], dir);
    await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256',
      '-extfile', `${base}.ext`, '-out', `${base}.pem`], dir);
    const certFile = join(dir, `${base}.pem`);
    const keyFile = join(dir, `${base}.key`);
    pairs.set(name, { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile, keyFile });
  }
  const caFile = join(dir, 'ca.pem');
  return {
    dir,
    caPem: await readFile(caFile, 'utf8'),
    caFile,
    certFor(name: string): CertPair {
      const p = pairs.get(name);
      if (!p) throw new Error(`makeCerts: no certificate for ${name} (have ${[...pairs.keys()].join(', ')})`);
      return p;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
