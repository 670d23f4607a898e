// router/: Envoy's URI-template path matching and rewriting (envoy.path.match/rewrite.uri_template): a template like
// `/api/{version}/{rest=**}` is compiled once into an RE2 pattern with named variables; a rewrite template
// `/{rest}/{version}` re-assembles the path from the captured variables.

const SEGMENT_CHARS = "[a-zA-Z0-9\\-._~%!$&'()+,;:@=]";
const ONE = `${SEGMENT_CHARS}+`;
const MANY = `${SEGMENT_CHARS}+(?:/${SEGMENT_CHARS}+)*`;
const VAR_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/;
const LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]*$/;

export interface UriTemplate {
  /** RE2 pattern (full match) over the path without query. */
  readonly regex: string;
  /** Variable names in capture-group order. */
  readonly variables: readonly string[];
}

export type UriTemplateResult = { readonly ok: true; readonly template: UriTemplate } | { readonly ok: false; readonly error: string };

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Parses a match template; `**` (bare or as a variable) may only be the last segment. */
export function parseUriTemplate(template: string): UriTemplateResult {
  if (!template.startsWith('/')) return { ok: false, error: `path template ${JSON.stringify(template)} must start with "/"` };
  if (template.length > 256) return { ok: false, error: 'path template is longer than 256 characters' };
  const segments = template.slice(1).split('/');
  const vars: string[] = [];
  let re = '';
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const last = i === segments.length - 1;
    re += '/';
    if (seg === '*') re += ONE;
    else if (seg === '**') {
      if (!last) return { ok: false, error: `"**" must be the last segment of ${JSON.stringify(template)}` };
      re += MANY;
    } else if (seg.startsWith('{') && seg.endsWith('}')) {
      const [name, op = '*'] = seg.slice(1, -1).split('=');
      if (!VAR_NAME.test(name)) return { ok: false, error: `invalid variable name ${JSON.stringify(name)} in ${JSON.stringify(template)}` };
      if (vars.includes(name)) return { ok: false, error: `duplicate variable ${name} in ${JSON.stringify(template)}` };
      if (op !== '*' && op !== '**') return { ok: false, error: `unsupported variable pattern ${JSON.stringify(op)} in ${JSON.stringify(template)}` };
      if (op === '**' && !last) return { ok: false, error: `"**" must be the last segment of ${JSON.stringify(template)}` };
      vars.push(name);
      re += `(${op === '*' ? ONE : MANY})`;
    } else {
      if (!LITERAL.test(seg) || (seg === '' && !last)) return { ok: false, error: `invalid segment ${JSON.stringify(seg)} in ${JSON.stringify(template)}` };
      re += escapeRe(seg);
    }
  }
  if (vars.length > 5) return { ok: false, error: `at most 5 variables are allowed in ${JSON.stringify(template)}` };
  return { ok: true, template: { regex: re, variables: vars } };
}

/** A parsed rewrite template: literal text and variable names. */
export type UriTemplateRewrite = readonly ({ readonly literal: string } | { readonly variable: string })[];

export type UriTemplateRewriteResult = { readonly ok: true; readonly rewrite: UriTemplateRewrite } | { readonly ok: false; readonly error: string };

export function parseUriTemplateRewrite(text: string): UriTemplateRewriteResult {
  if (!text.startsWith('/')) return { ok: false, error: `path template rewrite ${JSON.stringify(text)} must start with "/"` };
  const parts: ({ literal: string } | { variable: string })[] = [];
  const re = /\{([^}]*)\}|([^{}]+)|([{}])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[3] !== undefined) return { ok: false, error: `unbalanced brace in ${JSON.stringify(text)}` };
    if (m[1] !== undefined) {
      if (!VAR_NAME.test(m[1])) return { ok: false, error: `invalid variable name ${JSON.stringify(m[1])} in ${JSON.stringify(text)}` };
      parts.push({ variable: m[1] });
    } else parts.push({ literal: m[2] });
  }
  return { ok: true, rewrite: parts };
}
