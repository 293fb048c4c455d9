import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { CAC } from "cac";
import { cliErrorMessage, createCli, parseArgv } from "../../shared/cli.ts";
import { kopiaBackupOptions } from "../../shared/kopia/kopia-backup-options.ts";
import { declareOptions, readOptions } from "../../shared/option-table.ts";
import { operatorBackupOptions } from "../../shared/operator/operator-backup-options.ts";
import { retentionFrom } from "../../shared/retention.ts";
import { parsePositiveInteger } from "../../shared/options.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";
import { usageErrorOf } from "../support/unit.ts";

/** kopia-backup's own CLI, parsed from `args` as the script parses process.argv. */
function parseBackupArgs(...args: string[]): CAC {
  const cli = createCli("kopia-backup");
  const command = cli.command("", "test");
  declareOptions(command, kopiaBackupOptions);
  command.action(() => {});
  cli.help();
  parseArgv(cli, ["bun", "kopia-backup", ...args]);
  return cli;
}

const { keepLatest, keepHourly, keepDaily, keepWeekly, keepMonthly, keepAnnual } = kopiaBackupOptions;
const retentionTable = { keepLatest, keepHourly, keepDaily, keepWeekly, keepMonthly, keepAnnual };

function parseOperatorArgs(...args: string[]): CAC {
  const cli = createCli("operator-backup");
  const command = cli.command("", "test");
  declareOptions(command, operatorBackupOptions);
  command.action(() => {});
  parseArgv(cli, ["bun", "operator-backup", ...args]);
  return cli;
}

/** The message a script prints for a cac error, after cac's checks (unknown option, missing value). */
function cacErrorOf(cli: CAC): string {
  let caught: unknown;
  try {
    cli.runMatchedCommand();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as Error).name).toBe("CACError");
  return cliErrorMessage(caught as Error, cli);
}

describe("parseArgv: option values arrive as the exact string typed", () => {
  test.each([
    ["--hostname", "0100", "hostname"],
    ["--username", "1e3", "username"],
    ["--keep-daily", "0x10", "keepDaily"],
    ["--keep-weekly", "007", "keepWeekly"],
    ["--hostname", "1_000", "hostname"],
    ["--username", " 12 ", "username"],
    ["--description", "Infinity", "description"],
  ])("%p %p stays the string %p", (flag, value, key) => {
    expect(parseBackupArgs(flag, value).options[key]).toBe(value);
    expect(parseBackupArgs(`${flag}=${value}`).options[key]).toBe(value);
  });

  test("PVC '1e3' and PVC '1000' stay two Kopia sources", () => {
    const identity = (username: string) => {
      const { hostname, username: user } = readOptions(parseBackupArgs("--hostname", "0100", "--username", username).options, { hostname: kopiaBackupOptions.hostname, username: kopiaBackupOptions.username });
      return { hostname, username: user };
    };
    expect(identity("1e3")).toEqual({ hostname: "0100", username: "1e3" });
    expect(identity("1000")).toEqual({ hostname: "0100", username: "1000" });
  });

  test("repeated flags are an array of the typed strings", () => {
    expect(parseBackupArgs("--tag", "1", "--tag", "0x2").options.tag).toEqual(["1", "0x2"]);
  });

  test("--flag= gives an empty value instead of taking the next argument", () => {
    const { options } = parseBackupArgs("--hostname=", "--username", "u");
    expect(options.hostname).toBe("");
    expect(options.username).toBe("u");
  });

  test("a negative number is the value of the flag before it, not an unknown option -1", () => {
    expect(parseBackupArgs("--keep-daily", "-1").options.keepDaily).toBe("-1");
  });

  test("boolean flags and arguments after -- are unchanged", () => {
    expect(parseBackupArgs("--debug").options.debug).toBe(true);
    expect(parseBackupArgs("--debug", "false").options.debug).toBe(false);
    expect(parseBackupArgs("--", "0100", "-1").options["--"]).toEqual(["0100", "-1"]);
    expect(parseOperatorArgs("--no-maintenance").options.maintenance).toBe(false);
    expect(parseOperatorArgs().options.maintenance).toBe(true);
  });

  test("positional arguments are typed strings too", () => {
    expect(parseBackupArgs("0100").args).toEqual(["0100"]);
  });

  test("operator-backup: --uuid 0100 and --concurrency 1e1 arrive as typed", () => {
    const { options } = parseOperatorArgs("--uuid", "0100", "--concurrency", "1e1", "--keep-daily", "0x10");
    expect(options.uuid).toBe("0100");
    expect(options.keepDaily).toBe("0x10");
    expect(usageErrorOf(() => parsePositiveInteger(options.concurrency, "--concurrency")).message).toContain("--concurrency: '1e1' is not a whole number");
  });
});

describe("retention from flag and env alike: plain decimal integers only", () => {
  test.each([["0x10"], ["1e3"], ["-1"], ["+7"]])("--keep-daily %p is refused", (value) => {
    const { options } = parseBackupArgs("--keep-daily", value);
    expect(usageErrorOf(() => retentionFrom(readOptions(options, retentionTable))).message).toStartWith(`--keep-daily: '${value}' is not a whole number`);
  });

  test("a decimal value keeps its meaning, leading zeros included", () => {
    expect(retentionFrom(readOptions(parseBackupArgs("--keep-daily", "007", "--keep-weekly=12").options, retentionTable))).toEqual({ daily: 7, weekly: 12 });
  });
});

describe("cac errors name the option as typed", () => {
  test("an unknown option keeps its dashes", () => {
    expect(cacErrorOf(parseBackupArgs("--keep-dayly", "7"))).toBe("Unknown option `--keep-dayly`; see kopia-backup --help");
    expect(cacErrorOf(parseBackupArgs("--keep-dayly=7"))).toBe("Unknown option `--keep-dayly`; see kopia-backup --help");
  });

  test("an unknown short option is named as typed", () => {
    expect(cacErrorOf(parseBackupArgs("-x"))).toBe("Unknown option `-x`; see kopia-backup --help");
  });

  test("a missing value names the option", () => {
    expect(cacErrorOf(parseBackupArgs("--keep-daily"))).toContain("`--keep-daily <n>` value is missing");
  });
});

describe("the scripts refuse numeric look-alikes with exit 2 (spawned)", () => {
  const run = async (...args: Parameters<typeof runScript>) => {
    const result = await runScript(...args);
    const lines = result.stderr.split("\n").filter((line) => line.trim());
    return { ...result, lines };
  };

  test("kopia-backup --keep-daily 0x10", async () => {
    const data = await tempDir("kk-cli-");
    const result = await run("kopia-backup", ["--path", data, "--keep-daily", "0x10"], {});
    expect(result.exitCode, result.output).toBe(2);
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]).toContain("--keep-daily: '0x10' is not a whole number");
  });

  test("kopia-backup --keep-daily -1 names --keep-daily", async () => {
    const data = await tempDir("kk-cli-");
    const result = await run("kopia-backup", ["--path", data, "--keep-daily", "-1"], {});
    expect(result.exitCode, result.output).toBe(2);
    expect(result.lines[0]).toContain("--keep-daily: '-1' is not a whole number");
  });

  test("kopia-backup --keepDayly: the unknown option is named as typed", async () => {
    const result = await run("kopia-backup", ["--keep-dayly", "7"], {});
    expect(result.exitCode, result.output).toBe(2);
    expect(result.lines).toEqual(["kopia-backup: Unknown option `--keep-dayly`; see kopia-backup --help"]);
  });

  test("kopia-maintenance: KK_MAINTENANCE_FULL goes through parseBoolean", async () => {
    const result = await run("kopia-maintenance", [], { KK_MAINTENANCE_FULL: "maybe" });
    expect(result.exitCode, result.output).toBe(2);
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]).toContain("KK_MAINTENANCE_FULL: 'maybe' is not a boolean; use true or false");
  });

  test("operator-backup --concurrency 0x10", async () => {
    const home = await tempDir("kk-cli-");
    const result = await run("operator-backup", ["--dry-run", "--repository", "filesystem:///srv/backups", "--concurrency", "0x10"], {
      HOME: home,
      KUBECONFIG: join(home, "no-such-kubeconfig"),
      KOPIA_PASSWORD: "unit-test",
    });
    expect(result.exitCode, result.output).toBe(2);
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]).toContain("--concurrency: '0x10' is not a whole number");
  }, 20_000);
});
