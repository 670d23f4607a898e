// bootstrap/: protobuf MergeFrom semantics on canonical objects, used to lay `--config-yaml` over the `-c` file the
// way Envoy does: singular fields from the overlay win, nested messages and maps merge, repeated fields append.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Returns a new object: `base` with `overlay` merged in (neither input is modified). */
export function mergeCanonical(base: Record<string, unknown>, overlay: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    const cur = out[k];
    if (Array.isArray(v) && Array.isArray(cur)) out[k] = [...cur, ...v];
    else if (isPlainObject(v) && isPlainObject(cur)) {
      // An Any of a different type replaces rather than merges (MergeFrom on Any would keep the old type_url).
      if ('@type' in v && cur['@type'] !== v['@type']) out[k] = v;
      else out[k] = mergeCanonical(cur, v);
    } else out[k] = v;
  }
  return out;
}
