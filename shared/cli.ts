import { cac, type CAC } from "cac";
import { ExitCode, KkError } from "./exit-codes.ts";
import { currentLogger, redact, writeLine } from "./log.ts";

/**
 * Parses argv with cac and runs the script's single command. Every failure ends in one line on
 * stderr and a documented exit code; unknown flags and missing values are usage errors (exit 2).
 */
export async function runCli(cli: CAC): Promise<never> {
  let exitCode: number = ExitCode.ok;
  try {
    cli.help();
    cli.parse(process.argv, { run: false });
    const result = await cli.runMatchedCommand();
    if (typeof result === "number") exitCode = result;
  } catch (error) {
    exitCode = reportFailure(error, cli.name);
  }
  process.exit(exitCode); // every line was written synchronously: nothing left to flush
}

export function createCli(name: string): CAC {
  return cac(name);
}

function reportFailure(error: unknown, program: string): number {
  const [message, exitCode] =
    error instanceof KkError
      ? [error.message, error.exitCode]
      : error instanceof Error && error.name === "CACError"
        ? [`${error.message}; see ${program} --help`, ExitCode.usage]
        : [`unexpected failure: ${error instanceof Error ? error.message : String(error)}`, ExitCode.failed];
  const log = currentLogger();
  if (log) log.error(message);
  else writeLine(2, `${program}: ${redact(message)}`);
  return exitCode;
}
