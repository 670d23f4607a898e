// common/: the error collector every translator uses. Validation never throws; it gathers every problem with
// its field path so a NACK can name them all (grpc-js-xds ValidationResult, Envoy create() returning a status).

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T; readonly warnings: readonly FieldError[] }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

/** Collects errors and warnings under a path prefix; `at()` gives a child collector for a nested field. */
export class Issues {
  constructor(
    private readonly prefix: string = '',
    private readonly errors: FieldError[] = [],
    private readonly warnings: FieldError[] = [],
  ) {}

  at(key: string | number): Issues {
    const p = typeof key === 'number' ? `${this.prefix}[${key}]` : this.prefix ? `${this.prefix}.${key}` : key;
    return new Issues(p, this.errors, this.warnings);
  }

  get path(): string {
    return this.prefix;
  }

  error(message: string, key?: string | number): void {
    this.errors.push({ path: key === undefined ? this.prefix : this.at(key).prefix, message });
  }

  warn(message: string, key?: string | number): void {
    this.warnings.push({ path: key === undefined ? this.prefix : this.at(key).prefix, message });
  }

  /** A field meshlet does not implement but which changes behaviour: reject, naming it (never silently ignore). */
  unsupported(key: string, what = 'is not supported by meshlet'): void {
    this.error(`field ${what}`, key);
  }

  get hasErrors(): boolean {
    return this.errors.length > 0;
  }

  get errorCount(): number {
    return this.errors.length;
  }

  result<T>(value: T): ValidationResult<T> {
    if (this.errors.length > 0) return { ok: false, errors: [...this.errors] };
    return { ok: true, value, warnings: [...this.warnings] };
  }

  allErrors(): readonly FieldError[] {
    return this.errors;
  }
}

export function formatErrors(errors: readonly FieldError[], max = 20): string {
  const lines = errors.slice(0, max).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  if (errors.length > max) lines.push(`... and ${errors.length - max} more`);
  return lines.join('; ');
}
