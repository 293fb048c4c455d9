import { describe, expect, test } from "bun:test";
import { repoRoot } from "../support/processes.ts";

describe("the container image", () => {
  test(
    "npm run image builds the Dockerfile with podman and the smoke test passes (--help of each binary, kopia-backup round trip)",
    async () => {
      const build = Bun.spawn(["bash", "test/tools/image.sh"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { ...process.env, KK_IMAGE: "localhost/kopia-k8s:test" } });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
      expect(exitCode, `${stdout}\n${stderr.slice(-4000)}`).toBe(0);
      expect(stderr).toContain("[image] round trip: identical");
      expect(stderr).toMatch(/\[image\] localhost\/kopia-k8s:test: \d+ MiB/);
    },
    45 * 60_000,
  );
});
