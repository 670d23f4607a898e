// cli/: the process surface a command may touch (output streams, environment, cwd), injected so commands can run
// in-process under tests. `oneLine` keeps every error on a single stderr line.

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIo(): CliIo {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Collapses a message onto one line (errors from nested parsers may carry newlines). */
export function oneLine(msg: string): string {
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/** Prints `meshlet: <message>` as exactly one stderr line. */
export function printError(io: CliIo, msg: string): void {
  io.stderr(`meshlet: ${oneLine(msg)}\n`);
}
