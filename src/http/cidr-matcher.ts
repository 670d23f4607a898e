// http/: CIDR ranges compiled once into numeric (uint32) base/mask pairs, for the per-request "is this client
// internal" check of the connection manager (internal_address_config). No allocation per lookup; the last address
// asked is remembered (a keep-alive connection asks with the same address every request).

/** IPv4 dotted quad → uint32, or -1 when `s` is not exactly one. */
export function parseIpv4(s: string, start = 0, end = s.length): number {
  let out = 0;
  let parts = 0;
  let i = start;
  while (i < end) {
    let v = 0;
    let digits = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      digits++;
      i++;
      if (digits > 3) return -1;
    }
    if (digits === 0 || v > 255) return -1;
    out = out * 256 + v;
    parts++;
    if (i === end) break;
    if (s.charCodeAt(i) !== 46 /* . */ || parts === 4) return -1;
    i++;
    if (i === end) return -1;
  }
  return parts === 4 ? out >>> 0 : -1;
}

const GROUPS = new Uint32Array(8);

/** IPv6 text (with '::', an embedded IPv4 tail and an optional %zone) → four uint32 words into `out`; false if invalid. */
export function parseIpv6(s: string, out: Uint32Array): boolean {
  let end = s.indexOf('%');
  if (end < 0) end = s.length;
  const groups = GROUPS;
  groups.fill(0);
  let n = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  } else if (end > 0 && s.charCodeAt(0) === 58) return false;
  while (i < end) {
    // An IPv4 tail takes two groups.
    let j = i;
    let v = 0;
    let digits = 0;
    while (j < end) {
      const c = s.charCodeAt(j);
      const h = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      const v4 = parseIpv4(s, i, end);
      if (v4 < 0 || n > 6) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4 || n >= 8) return false;
    groups[n++] = v;
    i = j;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) return false;
  }
  if (gap >= 0) {
    if (n === 8) return false;
    const tail = n - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k];
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  } else if (n !== 8) return false;
  for (let w = 0; w < 4; w++) out[w] = ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0;
  return true;
}

function maskWord(len: number, word: number): number {
  const bits = Math.max(0, Math.min(32, len - 32 * word));
  return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

const V4_MAPPED_PREFIX = 0xffff;

/** A compiled set of CIDR ranges. `matches(ip)` accepts IPv4, IPv6 and IPv4-mapped IPv6 text. */
export class CidrMatcher {
  /** IPv4 ranges: [base0, mask0, base1, mask1, …] (base already masked). */
  private readonly v4: Uint32Array;
  /** IPv6 ranges: 8 words per range: base w0..w3, mask w0..w3. */
  private readonly v6: Uint32Array;
  private readonly scratch = new Uint32Array(4);
  private lastIp = '';
  private lastResult = false;
  /** Entries that were not valid CIDRs (skipped; config validation reports them). */
  readonly invalid: readonly string[];

  constructor(ranges: readonly (readonly [string, number])[]) {
    const v4: number[] = [];
    const v6: number[] = [];
    const invalid: string[] = [];
    const w = new Uint32Array(4);
    for (const [base, len] of ranges) {
      const a = parseIpv4(base);
      if (a >= 0) {
        if (len < 0 || len > 32) {
          invalid.push(`${base}/${len}`);
          continue;
        }
        const m = maskWord(len, 0);
        v4.push((a & m) >>> 0, m);
        continue;
      }
      if (!parseIpv6(base, w) || len < 0 || len > 128) {
        invalid.push(`${base}/${len}`);
        continue;
      }
      const masks = [maskWord(len, 0), maskWord(len, 1), maskWord(len, 2), maskWord(len, 3)];
      v6.push((w[0] & masks[0]) >>> 0, (w[1] & masks[1]) >>> 0, (w[2] & masks[2]) >>> 0, (w[3] & masks[3]) >>> 0, ...masks);
    }
    this.v4 = Uint32Array.from(v4);
    this.v6 = Uint32Array.from(v6);
    this.invalid = invalid;
  }

  matches(ip: string): boolean {
    if (ip === this.lastIp) return this.lastResult;
    const r = this.compute(ip);
    this.lastIp = ip;
    this.lastResult = r;
    return r;
  }

  private compute(ip: string): boolean {
    const a = parseIpv4(ip);
    if (a >= 0) {
      if (this.matchV4(a)) return true;
      // An IPv4 client also matches IPv6 ranges covering its mapped form ::ffff:a.b.c.d.
      const w = this.scratch;
      w[0] = 0;
      w[1] = 0;
      w[2] = V4_MAPPED_PREFIX;
      w[3] = a;
      return this.matchV6(w);
    }
    const w = this.scratch;
    if (!parseIpv6(ip, w)) return false;
    if (this.matchV6(w)) return true;
    if (w[0] === 0 && w[1] === 0 && w[2] === V4_MAPPED_PREFIX) return this.matchV4(w[3]);
    return false;
  }

  private matchV4(a: number): boolean {
    const r = this.v4;
    for (let i = 0; i < r.length; i += 2) if (((a & r[i + 1]) >>> 0) === r[i]) return true;
    return false;
  }

  private matchV6(w: Uint32Array): boolean {
    const r = this.v6;
    for (let i = 0; i < r.length; i += 8) {
      if (((w[0] & r[i + 4]) >>> 0) === r[i] && ((w[1] & r[i + 5]) >>> 0) === r[i + 1]
        && ((w[2] & r[i + 6]) >>> 0) === r[i + 2] && ((w[3] & r[i + 7]) >>> 0) === r[i + 3]) return true;
    }
    return false;
  }
}
