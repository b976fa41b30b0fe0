import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
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

  it("takes variables whose name contains AUTH or ends in _KEY, not git's author identity", () => {
    const env = [
      "BASIC_AUTH=user:pa55word",
      "NPM_AUTH=bnBtOnNlY3JldA",
      "AUTHORIZATION=Bearer abcdefgh",
      "oauth_client=client-secret-1",
      "SIGNING_KEY=k3y-material-9",
      "AWS_ACCESS_KEY=AKIAEXAMPLE123",
      "GIT_AUTHOR_NAME=Jane Developer",
      "GIT_AUTHOR_EMAIL=jane@example.com",
      "KEYBOARD_LAYOUT=dvorak-programmer",
      "MONKEY=chimpanzee-bonobo",
    ];
    expect(secretValuesOf(env)).toEqual([
      "user:pa55word",
      "bnBtOnNlY3JldA",
      "Bearer abcdefgh",
      "client-secret-1",
      "k3y-material-9",
      "AKIAEXAMPLE123",
    ]);
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

  /** What the stream passes on, one entry per write it makes. */
  async function streamed(chunks: string[], secrets: string[]): Promise<string[]> {
    const stream = maskingStream(secrets);
    const out: string[] = [];
    stream.on("data", (chunk: Buffer) => out.push(String(chunk)));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
    await finished(stream);
    return out;
  }

  // A line with no newline for 64 KiB is passed on in pieces; a secret across that mark is masked whole.
  const LONG = 64 * 1024;
  /** Ordinary output, no token shape in it, exactly `length` characters. */
  const filler = (length: number) => ". ".repeat(length).slice(0, length);

  it("masks a known secret that straddles the 64 KiB mark of an endless line", async () => {
    const secret = "hunter2-but-longer";
    for (const cutInSecret of [1, 7, secret.length - 1]) {
      const before = LONG - cutInSecret + 10;
      const line = `${filler(before)}${secret}${filler(100)}`;
      // The first read ends inside the secret, past the 64 KiB mark.
      const out = await streamed([line.slice(0, before + cutInSecret), line.slice(before + cutInSecret)], [secret]);
      expect(out.length).toBeGreaterThan(1);
      expect(out.join("")).toBe(`${filler(before)}${MASK}${filler(100)}`);
    }
  });

  it("masks a token shape it was not told about across the 64 KiB mark", async () => {
    const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    for (const cutInToken of [2, 10, 30]) {
      const before = LONG - cutInToken + 10;
      const line = `${filler(before)} ${token} done`;
      const out = await streamed([line.slice(0, before + 1 + cutInToken), line.slice(before + 1 + cutInToken)], []);
      expect(out.length).toBeGreaterThan(1);
      expect(out.join("")).toBe(`${filler(before)} ${MASK} done`);
    }
  });

  it("passes a line of ordinary text on while it is still being written", async () => {
    const stream = maskingStream(["hunter2-but-longer"]);
    const pieces: string[] = [];
    stream.on("data", (chunk: Buffer) => pieces.push(String(chunk)));
    stream.write("word ".repeat(LONG / 4));
    expect(pieces.join("").length).toBeGreaterThan(LONG);
    stream.end();
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
