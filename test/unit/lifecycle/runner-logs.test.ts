import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { finalUsage } from "../../../src/lifecycle/clean-up.js";
import { MASK, maskingStream, maskSecrets, secretValuesOf, tailOf } from "../../../src/lifecycle/runner-logs.js";

/** Shaped like a real encoded JIT config: base64 of a JSON document, a few KB long. */
const JIT_CONFIG = Buffer.from(
  JSON.stringify({
    ".runner": "eyJhZ2VudElkIjoiMTIzIiwiYWdlbnROYW1lIjoibGludXgtYWJjIiwicG9vbElkIjoiMSJ9",
    ".credentials": "eyJzY2hlbWUiOiJPQXV0aCIsImRhdGEiOnsiY2xpZW50SWQiOiIxMjM0NTY3OCJ9fQ==",
    ".credentials_rsaparams": "eyJkIjoiU0VDUkVUUlNBUEFSQU1TIiwiZHAiOiJNT1JFU0VDUkVUIn0=",
  }),
).toString("base64");
const REGISTRATION_TOKEN = "AABF3JGZDX3P5PMEXLND6TS6FCWO6";

describe("secretValuesOf", () => {
  it("takes the registration variables and variables named like secrets, not ordinary ones", () => {
    const env = [
      `ACTIONS_RUNNER_INPUT_JITCONFIG=${JIT_CONFIG}`,
      `RUNNER_TOKEN=${REGISTRATION_TOKEN}`,
      "NPM_TOKEN=npm_abcdefgh12345678",
      "DB_PASSWORD=hunter2hunter2",
      "RUNNER_NAME=linux-abc123",
      "PATH=/usr/local/bin:/usr/bin",
      "API_KEY=short",
      "=odd",
    ];
    expect(secretValuesOf(env)).toEqual([JIT_CONFIG, REGISTRATION_TOKEN, "npm_abcdefgh12345678", "hunter2hunter2"]);
  });
});

describe("maskSecrets", () => {
  it("masks known values exactly, wherever they appear", () => {
    const text = `config=${JIT_CONFIG}\nusing token ${REGISTRATION_TOKEN}.\n`;
    const masked = maskSecrets(text, [JIT_CONFIG, REGISTRATION_TOKEN]);
    expect(masked).toBe(`config=${MASK}\nusing token ${MASK}.\n`);
  });

  it("masks GitHub tokens, JSON web tokens and long base64 blobs it was not told about", () => {
    const lines = [
      "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
      "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      "gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
      "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSJ9.c2lnbmF0dXJlLWJ5dGVz",
      JIT_CONFIG,
    ];
    const masked = maskSecrets(lines.map((line) => `x ${line} y`).join("\n"), []);
    expect(masked.split("\n")).toEqual(lines.map(() => `x ${MASK} y`));
  });

  it("leaves ordinary output alone: digests, paths, words, short values", () => {
    const text = [
      "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "/home/runner/work/app/app/node_modules/.bin/tsc --project tsconfig.build.json",
      "Listening for Jobs",
      "ghs_short",
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ].join("\n");
    expect(maskSecrets(text, ["short", "1234567"])).toBe(text);
  });

  it("masks a secret that contains another whole", () => {
    expect(maskSecrets("abcdefgh-ijklmnop", ["abcdefgh", "abcdefgh-ijklmnop"])).toBe(MASK);
  });
});

describe("tailOf", () => {
  it("keeps the text when it fits", () => {
    expect(tailOf("a\nb\n", 10)).toBe("a\nb\n");
  });

  it("keeps the last whole lines within the byte budget", () => {
    const text = "first line\nsecond line\nthird\n";
    expect(tailOf(text, 14)).toBe("third\n");
    expect(Buffer.byteLength(tailOf("é".repeat(100) + "\nend\n", 9))).toBeLessThanOrEqual(9);
  });

  it("drops a line cut in half, so a half secret never shows", () => {
    expect(tailOf(`${"x".repeat(50)}SECRETVALUE\nok\n`, 8)).toBe("ok\n");
  });
});

describe("maskingStream", () => {
  it("masks secrets split across chunks", async () => {
    const half = Math.floor(JIT_CONFIG.length / 2);
    const chunks = [`start\nconfig=${JIT_CONFIG.slice(0, half)}`, `${JIT_CONFIG.slice(half)}\nend`];
    const out: string[] = [];
    for await (const chunk of Readable.from(chunks).pipe(maskingStream([JIT_CONFIG]))) out.push(String(chunk));
    expect(out.join("")).toBe(`start\nconfig=${MASK}\nend`);
  });
});

describe("finalUsage", () => {
  const oomExit = { exitCode: 137, oomKilled: true, error: undefined, neverStarted: false, memoryLimitBytes: 64 << 20 };

  it("raises the peak of an OOM-killed runner to its memory limit", () => {
    expect(finalUsage({ peakMemoryBytes: 10 << 20, cpuSeconds: 2 }, oomExit)).toEqual({
      peakMemoryBytes: 64 << 20,
      cpuSeconds: 2,
    });
    expect(finalUsage(undefined, oomExit)).toEqual({ peakMemoryBytes: 64 << 20, cpuSeconds: 0 });
  });

  it("keeps the readings otherwise, and knows nothing without any", () => {
    const usage = { peakMemoryBytes: 5, cpuSeconds: 1.5 };
    expect(finalUsage(usage, { ...oomExit, oomKilled: false, exitCode: 0 })).toEqual(usage);
    expect(finalUsage(undefined, undefined)).toBeUndefined();
  });
});
