import { describe, expect, test } from "bun:test";
import type { V1Status } from "@kubernetes/client-node";
import { describeHookFailure, exitCodeFromStatus } from "../../../shared/operator/hooks.ts";
import type { HookPlan } from "../../../shared/operator/plan.ts";

const hook: HookPlan = { namespace: "db", pod: "pg-0", container: "postgres", containers: ["postgres"], command: "pg_dump > /data/dump.sql", timeoutMs: 30_000, onError: "abort" };
const WHERE = "hook in pod db/pg-0, container postgres";
const NO_SHELL_MESSAGE = 'OCI runtime exec failed: exec failed: unable to start container process: exec: "sh": executable file not found in $PATH: unknown';

const kubeletFailure = (code: string): V1Status => ({
  status: "Failure",
  reason: "NonZeroExitCode",
  message: `command terminated with non-zero exit code: error executing command [sh -c ...], exit code ${code}`,
  details: { causes: [{ reason: "ExitCode", message: code }] },
});

describe("exitCodeFromStatus", () => {
  test("Success is 0", () => {
    expect(exitCodeFromStatus({ status: "Success" })).toBe(0);
  });

  test("kubelet shape: details.causes[reason=ExitCode]", () => {
    expect(exitCodeFromStatus({ status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "3" }] } })).toBe(3);
    expect(exitCodeFromStatus({ status: "Failure", details: { causes: [{ reason: "Other", message: "9" }, { reason: "ExitCode", message: "127" }] } })).toBe(127);
  });

  test("the cause wins over the message", () => {
    expect(exitCodeFromStatus({ status: "Failure", message: "exit status 1", details: { causes: [{ reason: "ExitCode", message: "42" }] } })).toBe(42);
  });

  test.each([
    ["command terminated with non-zero exit code: error executing command [sh -c exit 3], exit status 3", 3],
    ["command terminated with non-zero exit code: exit code 3", 3],
    ["Exit Status 12", 12],
    ["exit code: 5", 5],
  ])("kwok shape: %p gives %p", (message, code) => {
    expect(exitCodeFromStatus({ status: "Failure", message })).toBe(code);
  });

  test("a non-numeric ExitCode cause falls back to the message", () => {
    expect(exitCodeFromStatus({ status: "Failure", message: "exit status 4", details: { causes: [{ reason: "ExitCode", message: "x" }] } })).toBe(4);
  });

  test.each<[string, V1Status]>([
    ["no status fields", {}],
    ["a failure without code", { status: "Failure", message: "container not found" }],
    ["a non-numeric cause", { status: "Failure", details: { causes: [{ reason: "ExitCode", message: "three" }] } }],
  ])("unknown: %s", (_label, status) => {
    expect(exitCodeFromStatus(status)).toBeUndefined();
  });
});

describe("describeHookFailure", () => {
  test("an image without a shell is named as such", () => {
    const text = describeHookFailure(hook, { status: "Failure", message: NO_SHELL_MESSAGE }, "");
    expect(text).toBe(`${WHERE}: the image has no shell (sh), so the hook cannot run; add a shell to the image or remove the annotation`);
  });

  test("a missing shell reported only on stderr is recognised too", () => {
    const text = describeHookFailure(hook, kubeletFailure("127"), "\nexec: \"sh\": executable file not found in $PATH");
    expect(text).toContain("has no shell");
  });

  test("no status: the connection closed", () => {
    expect(describeHookFailure(hook, undefined, "")).toBe(`${WHERE}: the connection closed before the command reported an exit status`);
  });

  test("an exit code with the last stderr line", () => {
    const text = describeHookFailure(hook, kubeletFailure("3"), "\npg_dump: connecting...\npg_dump: error: connection refused\n");
    expect(text).toBe(`${WHERE}: exited with code 3 (pg_dump: error: connection refused)`);
  });

  test("without stderr the status message is shown", () => {
    const text = describeHookFailure(hook, { status: "Failure", message: "exit status 2" }, "   ");
    expect(text).toBe(`${WHERE}: exited with code 2 (exit status 2)`);
  });

  test("an unknown code and no message", () => {
    expect(describeHookFailure(hook, { status: "Failure" }, "")).toBe(`${WHERE}: exited with code unknown`);
  });

  test("names the pod and the container", () => {
    const other: HookPlan = { ...hook, namespace: "web", pod: "nginx-7", container: "sidecar" };
    expect(describeHookFailure(other, kubeletFailure("1"), "")).toStartWith("hook in pod web/nginx-7, container sidecar: exited with code 1");
  });

  // Regression: the no-shell check matched "sh: not found" anywhere in stderr, so a shell that
  // exists but cannot find a script ending in ".sh" (or a missing "bash") was reported as "the
  // image has no shell". Expected: the exit code (127) and the stderr line.
  test("a missing script named *.sh is not mistaken for a missing shell", () => {
    const text = describeHookFailure(hook, kubeletFailure("127"), "\nsh: 1: /scripts/flush.sh: not found\n");
    expect(text).toBe(`${WHERE}: exited with code 127 (sh: 1: /scripts/flush.sh: not found)`);
  });

  test("a missing bash in an image with sh is not mistaken for a missing shell", () => {
    const text = describeHookFailure(hook, kubeletFailure("127"), "\nsh: bash: not found\n");
    expect(text).toBe(`${WHERE}: exited with code 127 (sh: bash: not found)`);
  });
});
