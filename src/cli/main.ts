#!/usr/bin/env node
import { runCli } from "./run.js";
import { processTerminal } from "./terminal.js";

// The CLI's entry is the one place it reads the environment: its own server URL and token.
process.exitCode = await runCli(
  process.argv.slice(2),
  { url: process.env.RUNNERHUB_URL, token: process.env.ADMIN_TOKEN },
  {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    fetch: globalThis.fetch,
    now: () => Date.now(),
    openTerminal: processTerminal,
  },
);
