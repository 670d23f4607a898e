// bootstrap/: turns bootstrap text (YAML or JSON, chosen by file extension or content) into a plain JSON value,
// with one-line parse errors that name the source and position (BOOTSTRAP_PARSE).
import { parseDocument } from 'yaml';
import { MeshletError } from '../common/errors.js';

export type DocumentFormat = 'json' | 'yaml' | 'auto';

/** Picks the parser from a file name: .json → JSON, .yaml/.yml → YAML, anything else → by content. */
export function formatForPath(path: string): DocumentFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return 'auto';
}

function oneLine(s: string): string {
  return s.split('\n')[0].trim();
}

function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; col = 1; } else col++;
  }
  return `line ${line}, column ${col}`;
}

/** Parses `text`; `source` names it in errors ("bootstrap.yaml", "--config-yaml"). Throws MeshletError BOOTSTRAP_PARSE. */
export function parseDocumentText(text: string, format: DocumentFormat, source: string): unknown {
  const trimmed = text.trimStart();
  const asJson = format === 'json' || (format === 'auto' && (trimmed.startsWith('{') || trimmed.startsWith('[')));
  if (asJson) {
    try {
      return JSON.parse(text);
    } catch (e) {
      if (format === 'json') {
        const msg = (e as Error).message;
        const m = /position (\d+)/.exec(msg);
        const where = m ? ` (${lineCol(text, Number(m[1]))})` : '';
        throw new MeshletError('BOOTSTRAP_PARSE', `cannot parse ${source} as JSON${where}: ${oneLine(msg)}`, e);
      }
      // 'auto': fall through to YAML, which also reports positions.
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = err.linePos?.[0];
    const where = pos ? ` (line ${pos.line}, column ${pos.col})` : '';
    const detail = oneLine(err.message.replace(/ at line \d+, column \d+:?.*$/s, ''));
    throw new MeshletError('BOOTSTRAP_PARSE', `cannot parse ${source} as YAML${where}: ${detail}`, err);
  }
  return doc.toJS({ maxAliasCount: 1000 });
}
