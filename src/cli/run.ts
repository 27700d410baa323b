import type { Writable } from 'node:stream';

/**
 * What a command reads and writes besides its arguments: this process's environment, directory
 * and streams when run as a program, or a test's own when run in-process.
 */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Relative paths given as arguments resolve against it. */
  cwd: string;
}

/** A command line tool: its arguments in, an exit code out. */
export type Command = (argv: string[], io: CliIo) => Promise<number>;

/** One line of output, as console.log would write it. */
export const writeLine = (out: Writable, text: string): void => {
  out.write(`${text}\n`);
};

/**
 * Runs a command as this process (the thin main modules): its arguments, environment, directory and
 * streams; sets the exit code it returns, and an unexpected error is exit 2 with its message.
 */
export function runAsProcess(command: Command): void {
  command(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 2;
    },
  );
}
