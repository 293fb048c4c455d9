import { cac, type CAC } from "cac";
import { ExitCode, KkError } from "./exit-codes.ts";
import { log, logConfigured, redact, writeLine } from "./log.ts";

/**
 * Parses argv with cac and runs the script's single command. Every failure ends in one line on
 * stderr and a documented exit code; unknown flags and missing values are usage errors (exit 2).
 */
export async function runCli(cli: CAC, argv: string[] = process.argv): Promise<never> {
  let exitCode: number = ExitCode.ok;
  try {
    cli.help();
    parseArgv(cli, argv);
    const result = await cli.runMatchedCommand();
    if (typeof result === "number") exitCode = result;
  } catch (error) {
    exitCode = reportFailure(error, cli);
  }
  process.exit(exitCode); // every line was written synchronously: nothing left to flush
}

export function createCli(name: string): CAC {
  return cac(name);
}

/**
 * NUL never occurs in argv. cac's parser (mri) turns every value that looks like a number into
 * one (`0100` → 100, `1e3` → 1000, `0x10` → 16); a value prefixed with NUL does not look like a
 * number, so it arrives as typed once the prefix is removed again.
 */
const VERBATIM = "\0";

/** cac's parse, except that every option value and argument reaches the command as the exact string typed. */
export function parseArgv(cli: CAC, argv: string[]): void {
  cli.parse([...argv.slice(0, 2), ...markValues(argv.slice(2))], { run: false });
  cli.rawArgs = argv;
  cli.args = cli.args.map((arg) => unmark(arg) as string);
  cli.options = unmark(cli.options) as CAC["options"];
}

function markValues(args: string[]): string[] {
  const endOfOptions = args.indexOf("--");
  const options = endOfOptions === -1 ? args : args.slice(0, endOfOptions);
  return [...options.map(markValue), ...args.slice(options.length)];
}

function markValue(arg: string): string {
  // mri reads `--flag true|false` as a boolean flag's value: leave those words alone.
  if (arg === "true" || arg === "false") return arg;
  // A negative number is a value (`--keep-daily -1`), not a cluster of short flags named by digits.
  if (/^-\d/.test(arg)) return VERBATIM + arg;
  // A lone "-" is a value (stdout, as in `--target -`), not an option.
  if (arg === "-") return VERBATIM + arg;
  if (arg.startsWith("-")) return /^-+no-/.test(arg) ? arg : arg.replace("=", `=${VERBATIM}`);
  return VERBATIM + arg;
}

function unmark(value: unknown): unknown {
  if (typeof value === "string") return value.startsWith(VERBATIM) ? value.slice(VERBATIM.length) : value;
  if (Array.isArray(value)) return value.map(unmark);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, unmark(item)]));
  }
  return value;
}

/** cac names an unknown option camelCased (`--keepDayly`); name it as the user typed it. */
export function cliErrorMessage(error: Error, cli: CAC): string {
  const message = error.message.replace(/^Unknown option `-+(.+)`$/, (whole, name: string) => {
    const typed = cli.rawArgs.slice(2).find((arg) => arg.startsWith("-") && camelCase(optionName(arg)) === name);
    return typed ? `Unknown option \`${typed.split("=")[0]}\`` : whole;
  });
  return `${message}; see ${cli.name} --help`;
}

const optionName = (arg: string) => arg.replace(/^-+(no-)?/, "").split("=")[0]!;
const camelCase = (name: string) => name.replace(/([a-z])-([a-z])/g, (_, before: string, after: string) => before + after.toUpperCase());

function reportFailure(error: unknown, cli: CAC): number {
  const [message, exitCode] =
    error instanceof KkError
      ? [error.message, error.exitCode]
      : error instanceof Error && error.name === "CACError"
        ? [cliErrorMessage(error, cli), ExitCode.usage]
        : [`unexpected failure: ${error instanceof Error ? error.message : String(error)}`, ExitCode.failed];
  if (logConfigured()) log.error(message);
  else writeLine(2, `${cli.name}: ${redact(message)}`);
  return exitCode;
}
