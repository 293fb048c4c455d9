import { describe, expect, test } from "bun:test";
import { repoRoot } from "../support/processes.ts";

describe("the container image", () => {
  test(
    "npm run image builds the Dockerfile for linux/amd64 and linux/arm64 into one manifest list, and each passes the smoke test (its platform in every executable, --help of each binary, kopia-backup round trip on a read-only root; arm64 under emulation)",
    async () => {
      const image = "localhost/kopia-k8s:test";
      const build = Bun.spawn(["bash", "test/tools/image.sh"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { ...process.env, KK_IMAGE: image } });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
      expect(exitCode, `${stdout}\n${stderr.slice(-4000)}`).toBe(0);
      for (const platform of ["linux/amd64", "linux/arm64"]) {
        expect(stderr).toContain(`[image] ${platform}: every executable is built for it`);
        expect(stderr).toContain(`[image] ${platform} round trip: identical`);
        expect(stderr).toMatch(new RegExp(`\\[image\\] ${image}-${platform.replace("/", "-")} \\(${platform}\\): \\d+ MiB`));
      }
      expect(stderr).toContain("uname -m in the image: aarch64");
      const manifest = Bun.spawnSync(["podman", "manifest", "inspect", image], { env: { ...process.env, CONTAINERS_CONF: `${repoRoot}/test/tools/podman/containers.conf` } });
      expect(manifest.exitCode, manifest.stderr.toString()).toBe(0);
      const platforms = (JSON.parse(manifest.stdout.toString()) as { manifests: { platform: { os: string; architecture: string } }[] }).manifests.map(({ platform }) => `${platform.os}/${platform.architecture}`);
      expect(platforms.sort()).toEqual(["linux/amd64", "linux/arm64"]);
    },
    45 * 60_000,
  );
});
