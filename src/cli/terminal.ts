import type { Terminal } from "./run.js";

const CTRL_C = "\u0003";

/**
 * The process' own terminal for `runnerhub top`: q or Ctrl-C quits (stdin in raw mode when it is
 * a terminal, so no Enter is needed), as do SIGINT and SIGTERM when stdin is not a terminal.
 */
export function processTerminal(): Terminal {
  const { stdin, stdout } = process;
  const quitters = new Set<() => void>();
  let quit = false;
  const onQuit = () => {
    quit = true;
    for (const wake of quitters) wake();
  };
  const onKey = (key: string) => {
    if (key === "q" || key === "Q" || key === CTRL_C) onQuit();
  };
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onKey);
    stdin.resume();
  }
  process.on("SIGINT", onQuit);
  process.on("SIGTERM", onQuit);
  return {
    interactive: stdout.isTTY === true,
    columns: () => (stdout.isTTY ? stdout.columns : undefined),
    rows: () => (stdout.isTTY ? stdout.rows : undefined),
    waitForQuit(ms) {
      if (quit) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (value: boolean) => {
          clearTimeout(timer);
          quitters.delete(wake);
          resolve(value);
        };
        const wake = () => done(true);
        const timer = setTimeout(() => done(false), ms);
        quitters.add(wake);
      });
    },
    close() {
      process.off("SIGINT", onQuit);
      process.off("SIGTERM", onQuit);
      if (stdin.isTTY) {
        stdin.off("data", onKey);
        stdin.setRawMode(false);
        stdin.pause();
      }
    },
  };
}
