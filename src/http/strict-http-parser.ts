// http/: startup guard run first by proxy.ts: meshlet refuses to run with Node's lenient HTTP/1 parser
// (--insecure-http-parser), which lets CL.TE smuggling through (security.md Table B #1).

/** The offending flag source ('execArgv' | 'NODE_OPTIONS'), or null when the strict parser is in use. */
export function insecureHttpParserSource(execArgv: readonly string[], nodeOptions: string | undefined): 'execArgv' | 'NODE_OPTIONS' | null {
  if (execArgv.some((a) => a === '--insecure-http-parser' || a.startsWith('--insecure-http-parser='))) return 'execArgv';
  if (nodeOptions && /(?:^|\s)--insecure-http-parser(?:=\S*)?(?:\s|$)/.test(nodeOptions)) return 'NODE_OPTIONS';
  return null;
}

/** Writes one line to stderr and exits non-zero when Node runs with --insecure-http-parser. */
export function refuseInsecureHttpParser(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
  exit: (code: number) => never = (code) => process.exit(code),
): void {
  const src = insecureHttpParserSource(execArgv, nodeOptions);
  if (src === null) return;
  process.stderr.write(`meshlet: refusing to start: Node's --insecure-http-parser is enabled (via ${src}); it allows HTTP request smuggling\n`);
  exit(78);
}
