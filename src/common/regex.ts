// common/: RE2 regular expressions (via re2-wasm, linear time) for every config regex: route safe_regex, header and
// string matchers, regex_rewrite. Compiled once at config translation/compile time, never per request.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import type { RE2 } from 're2-wasm';
import { nextSlice } from './next-slice.js';

type Re2Constructor = new (pattern: string, flags: string) => RE2;

const requireCjs = createRequire(import.meta.url);
let currentRe2: Re2Constructor | null = null;
let re2Instances = 0;
/** Programs compiled on the current instance. */
let programsOnCurrent = 0;
/**
 * Programs per instance before moving on to a fresh one. An instance's heap holds ≈ 9,400 simple programs, but
 * matching also allocates there (RE2's lazily built DFA states), and an instance whose heap is exhausted aborts
 * matches too, so each instance keeps most of its heap as headroom for matching (measured: ≈ 1,160 patterns each
 * used for one full and one partial match exhaust an instance). A match that still runs out of heap recompiles its
 * pattern on a fresh instance and retries (CompiledRegex.recover).
 */
const PROGRAMS_PER_INSTANCE = 1000;

/**
 * Loads a re2-wasm module instance. re2-wasm is CommonJS and instantiates its wasm synchronously at require, so
 * dropping its two files from require.cache and requiring again yields a fresh instance with its own 16 MB heap
 * (the first load is the instance the rest of the process shares).
 */
function loadRe2Instance(): Re2Constructor {
  if (re2Instances > 0) {
    const marker = `${sep}re2-wasm${sep}`;
    for (const k of Object.keys(requireCjs.cache)) if (k.includes(marker)) delete requireCjs.cache[k];
  }
  re2Instances++;
  return (requireCjs('re2-wasm') as { RE2: Re2Constructor }).RE2;
}

/** Patterns compiled once by preloadRegexEngine, each in its own turn: they run RE2's parser, compiler and matcher
 * once so the wasm functions they reach (compiled lazily by V8 on first call) are compiled before a config needs them. */
const WARMUP_PATTERNS: readonly string[] = ['^(?:x)$', '^(?:/api/v[0-9]+/(users|items)/[^/]+)$', '^(?:.*\\.(?:jpg|png)|[a-z]{2,8}-\\d*)$'];

let preloading: Promise<void> | null = null;

/** True once the first re2-wasm instance is loaded (compileRegex will not load it inside the caller's turn). */
export function regexEngineLoaded(): boolean {
  return currentRe2 !== null;
}

/**
 * Loads the re2-wasm engine without one long block: the wasm bytes are read and compiled off the main thread
 * (WebAssembly.compile; V8 reuses that native module when re2-wasm compiles the same bytes synchronously), then the
 * module is required in one turn and a few warm-up patterns are compiled in later turns. Loading it synchronously on the
 * first regex of a config took 30–55 ms inside one translation slice. Idempotent; never rejects (a failure leaves the
 * synchronous load to the first compileRegex, which reports it as before).
 */
export function preloadRegexEngine(): Promise<void> {
  return (preloading ??= (async () => {
    if (currentRe2 !== null) return;
    try {
      const bytes = await readFile(join(dirname(requireCjs.resolve('re2-wasm')), '..', 'wasm', 're2.wasm'));
      // Kept alive until the synchronous compile inside require('re2-wasm') has found it in V8's module cache.
      const compiled = await (globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<unknown> } }).WebAssembly.compile(bytes);
      await nextSlice();
      if (currentRe2 === null) {
        currentRe2 = loadRe2Instance();
        programsOnCurrent = 0;
      }
      void compiled;
      for (const p of WARMUP_PATTERNS) {
        await nextSlice();
        newRe2(p, 'u').test('/api/v1/users/x');
      }
    } catch {
      // left to the first compileRegex
    }
  })());
}

function isOutOfWasmMemory(e: unknown): boolean {
  if (e instanceof Error && e.name === 'RuntimeError') return true;
  const msg = e instanceof Error ? e.message : String(e);
  return /\bOOM\b|Cannot enlarge memory|abort\(/.test(msg);
}

/**
 * `new RE2(pattern, flags)` from the pool of re2-wasm instances: each runs in a fixed 16 MB wasm heap and never frees
 * a compiled RE2, so when the current instance runs out of memory the pattern is compiled again on a fresh one
 * (and after PROGRAMS_PER_INSTANCE programs, to leave heap for matching). RE2 objects keep working on the instance
 * that compiled them.
 * Syntax errors throw as usual.
 */
function newRe2(pattern: string, flags: string, fresh = false): RE2 {
  if (currentRe2 === null || fresh || programsOnCurrent >= PROGRAMS_PER_INSTANCE) {
    currentRe2 = loadRe2Instance();
    programsOnCurrent = 0;
  }
  try {
    const re = new currentRe2(pattern, flags);
    programsOnCurrent++;
    return re;
  } catch (e) {
    if (!isOutOfWasmMemory(e)) throw e;
    currentRe2 = loadRe2Instance();
    programsOnCurrent = 1;
    return new currentRe2(pattern, flags);
  }
}

/** re2-wasm module instances loaded so far (1 until the first one runs out of heap). */
export function regexInstanceCount(): number {
  return re2Instances;
}

/**
 * A compiled RE2 pattern: full-match (Envoy safe_regex semantics), search, and RE2-style replace-all.
 * re2-wasm runs in fixed 16 MB wasm heaps and never frees a compiled RE2, so instances are interned by pattern
 * (compileRegex), the search/replace programs are only built when first used, and a full heap moves compilation on
 * to a fresh re2-wasm instance (newRe2).
 */
export class CompiledRegex {
  private full: RE2;
  private globalRe: RE2 | null = null;
  private searchRe: RE2 | null = null;

  constructor(readonly source: string, readonly groupCount: number) {
    this.full = newRe2(`^(?:${source})$`, 'u');
  }

  private get global(): RE2 {
    return (this.globalRe ??= newRe2(this.source, 'gu'));
  }

  private get search(): RE2 {
    return (this.searchRe ??= newRe2(this.source, 'u'));
  }

  /**
   * After a match ran out of wasm heap: the programs are compiled again on a fresh re2-wasm instance (the old one
   * cannot be trusted any more). Throws what the failure was when it is not an out-of-memory error.
   */
  private recover(e: unknown): void {
    if (!isOutOfWasmMemory(e)) throw e;
    this.full = newRe2(`^(?:${this.source})$`, 'u', true);
    this.searchRe = this.searchRe && newRe2(this.source, 'u');
    this.globalRe = this.globalRe && newRe2(this.source, 'gu');
  }

  /** True when the whole input matches (RE2::FullMatch). */
  fullMatch(input: string): boolean {
    try {
      return this.full.test(input);
    } catch (e) {
      this.recover(e);
      return this.full.test(input);
    }
  }

  /** Capture groups of a full match ([0] is the whole input), or null. */
  fullMatchGroups(input: string): (string | undefined)[] | null {
    let m: ReturnType<RE2['exec']>;
    try {
      m = this.full.exec(input);
    } catch (e) {
      this.recover(e);
      m = this.full.exec(input);
    }
    return m === null ? null : [...m];
  }

  /** True when some part of the input matches (RE2::PartialMatch). */
  partialMatch(input: string): boolean {
    try {
      return this.search.test(input);
    } catch (e) {
      this.recover(e);
      return this.search.test(input);
    }
  }

  /**
   * RE2::GlobalReplace: replaces every non-overlapping match; an empty match right after the previous match is
   * skipped. `substitution` must come from compileSubstitution().
   */
  replaceAll(input: string, substitution: Substitution): string {
    const re = this.global;
    re.lastIndex = 0;
    let out = '';
    let last = 0;
    let lastMatchEnd = -1;
    let m: ReturnType<RE2['exec']>;
    while (re.lastIndex <= input.length && (m = re.exec(input)) !== null) {
      const start = m.index;
      const text = m[0] ?? '';
      const end = start + text.length;
      if (text.length === 0 && start === lastMatchEnd) {
        re.lastIndex = start + 1;
        continue;
      }
      out += input.slice(last, start) + renderSubstitution(substitution, m);
      last = end;
      lastMatchEnd = end;
      re.lastIndex = text.length === 0 ? end + 1 : end;
    }
    return out + input.slice(last);
  }

  /** RE2::Replace: replaces the first match only. */
  replaceFirst(input: string, substitution: Substitution): string {
    const m = this.search.exec(input);
    if (!m) return input;
    return input.slice(0, m.index) + renderSubstitution(substitution, m) + input.slice(m.index + (m[0] ?? '').length);
  }
}

/** A parsed RE2 rewrite string: literal text and group references (\0..\9). */
export type Substitution = readonly (string | number)[];

export type RegexResult = { readonly ok: true; readonly regex: CompiledRegex } | { readonly ok: false; readonly error: string };

const interned = new Map<string, CompiledRegex>();

/** Distinct patterns compiled so far in this process (each holds wasm memory for the process lifetime). */
export function compiledRegexCount(): number {
  return interned.size;
}

/**
 * Compiles `pattern` with RE2 syntax; what RE2 rejects (backreferences, lookaround, ...) is an error. The same
 * pattern always yields the same (immutable, shareable) CompiledRegex, so config updates do not grow the wasm heap.
 */
export function compileRegex(pattern: string): RegexResult {
  const hit = interned.get(pattern);
  if (hit !== undefined) return { ok: true, regex: hit };
  try {
    const regex = new CompiledRegex(pattern, countGroups(pattern));
    interned.set(pattern, regex);
    return { ok: true, regex };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `invalid regex ${JSON.stringify(pattern)}: ${msg.replace(/^Invalid regular expression: \/.*\/u?: /s, '')}` };
  }
}

/** Number of capturing groups in an RE2 pattern (parsed lexically). */
export function countGroups(pattern: string): number {
  let n = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] !== '?') n++;
      else if (pattern.startsWith('(?P<', i) || (pattern.startsWith('(?<', i) && pattern[i + 3] !== '=' && pattern[i + 3] !== '!')) n++;
    }
  }
  return n;
}

export type SubstitutionResult = { readonly ok: true; readonly substitution: Substitution } | { readonly ok: false; readonly error: string };

/** Parses an RE2 rewrite string (`\1`, `\\`); references beyond `groupCount` are an error (RE2::CheckRewriteString). */
export function compileSubstitution(text: string, groupCount: number): SubstitutionResult {
  const parts: (string | number)[] = [];
  let lit = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\') {
      lit += c;
      continue;
    }
    const d = text[i + 1];
    if (d === '\\') {
      lit += '\\';
      i++;
    } else if (d !== undefined && d >= '0' && d <= '9') {
      const g = d.charCodeAt(0) - 48;
      if (g > groupCount) return { ok: false, error: `substitution ${JSON.stringify(text)} references group \\${g} but the regex has ${groupCount} capturing group(s)` };
      if (lit) parts.push(lit);
      lit = '';
      parts.push(g);
      i++;
    } else {
      return { ok: false, error: `invalid rewrite pattern ${JSON.stringify(text)}: '\\' must be followed by a digit or '\\'` };
    }
  }
  if (lit) parts.push(lit);
  return { ok: true, substitution: parts };
}

function renderSubstitution(sub: Substitution, m: readonly (string | undefined)[]): string {
  if (sub.length === 1 && typeof sub[0] === 'string') return sub[0];
  let s = '';
  for (const p of sub) s += typeof p === 'string' ? p : (m[p] ?? '');
  return s;
}
