import { afterAll, describe, expect, test } from "bun:test";
import { usageErrorOf } from "../support/unit.ts";
import { link, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExposition, toExposition, validatePushgatewayUrl, writeMetricsFile, type Sample } from "../../shared/metrics.ts";

const gauge = (name: string, labels: Record<string, string>, value: number, help = `help of ${name}`): Sample => ({ name, help, labels, value });

describe("toExposition", () => {
  test("HELP and TYPE once per family, families grouped and sorted even when interleaved", () => {
    const text = toExposition([
      gauge("kk_b", { source: "s1" }, 1),
      gauge("kk_a", { source: "s1" }, 2),
      gauge("kk_b", { source: "s2" }, 3),
      gauge("kk_a", { source: "s2" }, 4),
    ]);
    expect(text).toBe(
      [
        "# HELP kk_a help of kk_a",
        "# TYPE kk_a gauge",
        'kk_a{source="s1"} 2',
        'kk_a{source="s2"} 4',
        "# HELP kk_b help of kk_b",
        "# TYPE kk_b gauge",
        'kk_b{source="s1"} 1',
        'kk_b{source="s2"} 3',
        "",
      ].join("\n"),
    );
  });

  test("no labels, several labels, fractional value", () => {
    expect(toExposition([gauge("kk_x", {}, 0.5, "x"), gauge("kk_y", { a: "1", b: "2" }, 1700000000, "y")])).toBe(
      '# HELP kk_x x\n# TYPE kk_x gauge\nkk_x 0.5\n# HELP kk_y y\n# TYPE kk_y gauge\nkk_y{a="1",b="2"} 1700000000\n',
    );
  });

  test('escapes ", \\ and newline in label values', () => {
    const text = toExposition([gauge("kk_e", { source: 'a"b\\c\nd' }, 1, "e")]);
    expect(text).toBe('# HELP kk_e e\n# TYPE kk_e gauge\nkk_e{source="a\\"b\\\\c\\nd"} 1\n');
    expect(text.split("\n")).toHaveLength(4);
  });

  test("empty input is a lone newline", () => {
    expect(toExposition([])).toBe("\n");
  });
});

describe("parseExposition", () => {
  test("round-trips toExposition, including escaped labels", () => {
    const samples = [
      gauge("kk_a", { source: "ns/pvc", kind: "quick" }, 42),
      gauge("kk_a", { source: 'quote " back \\ nl \n end' }, -1.5),
      gauge("kk_b", {}, 0),
    ];
    expect(parseExposition(toExposition(samples))).toEqual(samples);
  });

  test("ignores comments and blank lines; help defaults to empty", () => {
    expect(parseExposition("# some comment\n\nkk_z{a=\"b\"} 3\n")).toEqual([{ name: "kk_z", help: "", labels: { a: "b" }, value: 3 }]);
  });

  // Regression: unescaping replaced \n before \\, so a backslash followed by "n" (e.g. C:\new) came
  // back as a backslash plus a real newline.
  test("round-trips a label holding a backslash followed by n", () => {
    const samples = [gauge("kk_p", { source: "C:\\new" }, 1)];
    expect(parseExposition(toExposition(samples))).toEqual(samples);
  });
});

describe("validatePushgatewayUrl", () => {
  test("undefined stays undefined", () => {
    expect(validatePushgatewayUrl(undefined)).toBeUndefined();
  });

  test("http and https are accepted, trailing slashes dropped", () => {
    expect(validatePushgatewayUrl("http://pushgateway.monitoring:9091")).toBe("http://pushgateway.monitoring:9091");
    expect(validatePushgatewayUrl("https://pg.example/base//")).toBe("https://pg.example/base");
  });

  test.each(["ftp://pg:9091", "pushgateway:9091", "", "not a url"])("%p is a usage error naming --pushgateway-url", (value) => {
    expect(usageErrorOf(() => validatePushgatewayUrl(value)).message).toStartWith(`--pushgateway-url: '${value}' is not an http(s) URL`);
  });

  test.each(["https://user:hunter2secret@pg.example:9091", "http://hunter2secret@pg.example", "http://:hunter2secret@pg.example", "ftp://user:hunter2secret@pg", "user:hunter2secret@pg.example:9091"])(
    "%p holds credentials: refused like a repository URL, without echoing them",
    (value) => {
      const { message } = usageErrorOf(() => validatePushgatewayUrl(value));
      expect(message).toStartWith("--pushgateway-url: the URL must not hold credentials");
      expect(message).not.toContain("hunter2secret");
      expect(message.split("\n")).toHaveLength(1);
    },
  );
});

describe("writeMetricsFile", () => {
  const dirs: string[] = [];
  const tempFile = async () => {
    const dir = await mkdtemp(join(tmpdir(), "kk-metrics-"));
    dirs.push(dir);
    return { dir, path: join(dir, "kopia.prom") };
  };
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test("creates the file and leaves no temporary file behind", async () => {
    const { dir, path } = await tempFile();
    const samples = [gauge("kk_success", { source: "a" }, 1)];
    await writeMetricsFile(path, samples);
    expect(await readFile(path, "utf8")).toBe(toExposition(samples));
    expect(await readdir(dir)).toEqual(["kopia.prom"]);
  });

  test("replaces the file by rename: a hard link to the old file keeps the old content", async () => {
    const { dir, path } = await tempFile();
    const before = [gauge("kk_success", { source: "a" }, 1)];
    await writeMetricsFile(path, before);
    await link(path, join(dir, "old.prom"));
    await writeMetricsFile(path, [gauge("kk_success", { source: "a" }, 0)]);
    expect(await readFile(join(dir, "old.prom"), "utf8")).toBe(toExposition(before));
    expect(await readFile(path, "utf8")).toBe(toExposition([gauge("kk_success", { source: "a" }, 0)]));
    expect((await readdir(dir)).sort()).toEqual(["kopia.prom", "old.prom"]);
  });

  test("replaces produced series, carries over the rest (missing gauges and other sources)", async () => {
    const { dir, path } = await tempFile();
    await writeMetricsFile(path, [
      gauge("kk_last_success", { source: "a" }, 100),
      gauge("kk_success", { source: "a" }, 1),
      gauge("kk_success", { source: "b" }, 1),
    ]);
    // A failed run of source a: no last_success gauge this time.
    await writeMetricsFile(path, [gauge("kk_success", { source: "a" }, 0)]);
    expect(await readFile(path, "utf8")).toBe(
      [
        "# HELP kk_last_success help of kk_last_success",
        "# TYPE kk_last_success gauge",
        'kk_last_success{source="a"} 100',
        "# HELP kk_success help of kk_success",
        "# TYPE kk_success gauge",
        'kk_success{source="a"} 0',
        'kk_success{source="b"} 1',
        "",
      ].join("\n"),
    );
    expect(await readdir(dir)).toEqual(["kopia.prom"]);
  });

  test("a later success replaces the carried-over series", async () => {
    const { path } = await tempFile();
    await writeMetricsFile(path, [gauge("kk_last_success", { source: "a" }, 100)]);
    await writeMetricsFile(path, [gauge("kk_success", { source: "a" }, 0)]);
    await writeMetricsFile(path, [gauge("kk_last_success", { source: "a" }, 200), gauge("kk_success", { source: "a" }, 1)]);
    expect(parseExposition(await readFile(path, "utf8"))).toEqual([
      gauge("kk_last_success", { source: "a" }, 200),
      gauge("kk_success", { source: "a" }, 1),
    ]);
  });

  test("escaped labels are matched, so rewriting the same series does not duplicate it", async () => {
    const { path } = await tempFile();
    const samples = [gauge("kk_success", { source: 'ns/"quoted"\\x' }, 1)];
    await writeMetricsFile(path, samples);
    await writeMetricsFile(path, samples);
    expect(await readFile(path, "utf8")).toBe(toExposition(samples));
  });

  // Regression (same root cause as the parseExposition one): the corrupted carried-over series no
  // longer matched the produced one, so every run appended another line.
  test("rewriting a series whose label holds a backslash followed by n does not duplicate it", async () => {
    const { path } = await tempFile();
    const samples = [gauge("kk_success", { source: "C:\\new" }, 1)];
    await writeMetricsFile(path, samples);
    await writeMetricsFile(path, samples);
    expect(await readFile(path, "utf8")).toBe(toExposition(samples));
  });

  test("a carried-over family keeps its HELP text from the previous file", async () => {
    const { path } = await tempFile();
    await writeFile(path, '# HELP kk_other Written by another tool.\n# TYPE kk_other gauge\nkk_other{source="z"} 7\n');
    await writeMetricsFile(path, [gauge("kk_success", { source: "a" }, 1)]);
    expect(await readFile(path, "utf8")).toBe(
      '# HELP kk_other Written by another tool.\n# TYPE kk_other gauge\nkk_other{source="z"} 7\n' +
        '# HELP kk_success help of kk_success\n# TYPE kk_success gauge\nkk_success{source="a"} 1\n',
    );
  });
});
