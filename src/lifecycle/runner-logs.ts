import { Transform, type TransformCallback } from "node:stream";

/**
 * What a runner printed is shown to operators, but a runner's output may carry the secrets it was
 * started with (its JIT config, a registration token) and tokens its jobs handled. Everything that
 * leaves runnerhub goes through maskSecrets first.
 */

export const MASK = "***";

/** Environment variables of a runner container whose values are secrets by definition. */
export const SECRET_ENV_NAMES = ["ACTIONS_RUNNER_INPUT_JITCONFIG", "RUNNER_TOKEN"] as const;

/**
 * Other variables are treated as secrets when their name says so (pool env: API_TOKEN,
 * NPM_PASSWORD, BASIC_AUTH, NPM_AUTH, SIGNING_KEY…). AUTH followed by OR_NAME, OR_EMAIL or OR_DATE
 * is git's author identity (GIT_AUTHOR_NAME), not a credential; AUTHORIZATION still counts.
 */
const SECRET_NAME =
  /TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|JITCONFIG|AUTH(?!OR_(NAME|EMAIL|DATE)$)|_KEY$/i;

/** Shorter values are too likely to occur by chance in ordinary output to be masked everywhere. */
const MIN_SECRET_LENGTH = 8;

/**
 * Token shapes masked wherever they appear: GitHub tokens (ghp_ personal, gho_ OAuth, ghu_/ghs_
 * app user/installation, ghr_ refresh, github_pat_ fine-grained), JSON web tokens, and long
 * base64 blobs that mix upper case, lower case and digits the way encoded keys and JIT configs
 * do (hex digests, paths and words do not).
 */
const TOKEN_PATTERNS = [
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g,
];
const BASE64_RUN = /[A-Za-z0-9+/]{64,}={0,2}/g;

function looksEncoded(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run);
}

/** The values in a container's environment (`NAME=value` entries) that must never be shown. */
export function secretValuesOf(env: readonly string[]): string[] {
  const values: string[] = [];
  for (const entry of env) {
    const equals = entry.indexOf("=");
    if (equals <= 0) continue;
    const name = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    const known = (SECRET_ENV_NAMES as readonly string[]).includes(name);
    if ((known || SECRET_NAME.test(name)) && value.length >= MIN_SECRET_LENGTH) values.push(value);
  }
  return values;
}

/** Replaces known secret values (exactly) and token-like text with MASK. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  // Longest first: a secret that contains another is masked whole.
  for (const secret of [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length)) {
    masked = masked.split(secret).join(MASK);
  }
  for (const pattern of TOKEN_PATTERNS) masked = masked.replace(pattern, MASK);
  return masked.replace(BASE64_RUN, (run) => (looksEncoded(run) ? MASK : run));
}

/**
 * The end of a text within maxBytes of UTF-8, starting at a line: a line cut in half could begin
 * with the tail of a secret too short for the patterns to recognise. Mask before cutting.
 */
export function tailOf(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  const tail = bytes.subarray(bytes.length - maxBytes).toString("utf8");
  const newline = tail.indexOf("\n");
  return newline === -1 ? "" : tail.slice(newline + 1);
}

/** Lines longer than this are passed on in pieces (Docker splits log lines at 16 KiB anyway). */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * A run of one token shape longer than this is passed on even though it has not ended (its pieces
 * are masked on their own: every piece of such a run is itself a masked shape but its last few
 * characters); it bounds what one endless line can hold in memory.
 */
const MAX_HELD_BYTES = 16 * MAX_LINE_BYTES;

/** The longest a token shape needs before the patterns recognise it (a base64 run). */
const LONGEST_SHAPE_START = 64;

/** Where text masked so far may be cut: no secret or token shape, whole or begun, spans the cut. */
function safeCut(text: string, secrets: readonly string[]): number {
  const longest = Math.max(LONGEST_SHAPE_START, ...secrets.map((secret) => secret.length));
  // A secret or shape that only begins in the last `longest` characters may still be growing.
  let cut = Math.max(0, text.length - longest);
  const spans: [number, number][] = [];
  for (const secret of secrets.filter((s) => s.length >= MIN_SECRET_LENGTH)) {
    for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1))
      spans.push([at, at + secret.length]);
  }
  for (const pattern of [...TOKEN_PATTERNS, BASE64_RUN]) {
    for (const match of text.matchAll(pattern)) spans.push([match.index, match.index + match[0].length]);
  }
  // Moving the cut before one span can put it inside another (a secret within a base64 run).
  for (let moved = true; moved;) {
    moved = false;
    for (const [start, end] of spans) {
      if (start < cut && cut < end) {
        cut = start;
        moved = true;
      }
    }
  }
  return cut;
}

/**
 * Masks a live log stream line by line, so a secret is never split across two writes. A line
 * longer than MAX_LINE_BYTES is passed on in pieces cut where no secret or token shape spans the
 * cut, so a secret that straddles the 64 KiB mark is still masked whole.
 */
export function maskingStream(secrets: readonly string[]): Transform {
  let pending = "";
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      pending += chunk.toString("utf8");
      const lastNewline = pending.lastIndexOf("\n");
      if (lastNewline >= 0) {
        this.push(maskSecrets(pending.slice(0, lastNewline + 1), secrets));
        pending = pending.slice(lastNewline + 1);
      }
      if (pending.length > MAX_LINE_BYTES) {
        const cut = pending.length > MAX_HELD_BYTES ? pending.length : safeCut(pending, secrets);
        if (cut > 0) this.push(maskSecrets(pending.slice(0, cut), secrets));
        pending = pending.slice(cut);
      }
      done();
    },
    flush(done: TransformCallback) {
      if (pending) this.push(maskSecrets(pending, secrets));
      done();
    },
  });
}
