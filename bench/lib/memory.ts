import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const KIB_PER_MIB = 1024;

/** One field of /proc/<pid>/status (VmRSS, VmHWM), in MiB; the kernel reports kB (KiB). */
export function procStatusMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
  if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(match[1]) / KIB_PER_MIB;
}

export interface Sampler {
  /** Stops sampling and returns every sample taken, in MiB. */
  stop(): number[];
}

/** Reads VmRSS every `everyMs` until stopped (a process that has exited just ends the series). */
export function sampleRss(pid: number, everyMs: number): Sampler {
  const samples: number[] = [];
  const take = (): void => {
    try {
      samples.push(procStatusMiB(pid, "VmRSS"));
    } catch {
      clearInterval(timer);
    }
  };
  const timer = setInterval(take, everyMs);
  take();
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

/** Samples for `windowMs`: this is a measurement window, not a wait for something to happen. */
export function sampleRssFor(pid: number, everyMs: number, windowMs: number): Promise<number[]> {
  const sampler = sampleRss(pid, everyMs);
  return new Promise((resolve) => setTimeout(() => resolve(sampler.stop()), windowMs));
}

export interface BareNode {
  pid: number;
  stop(): Promise<void>;
}

/**
 * The memory baseline: the same node binary with no imports, kept alive by a timer. It says
 * "ready" once its script runs, so sampling starts after start-up rather than after a guess.
 */
export async function startBareNode(timeoutMs: number): Promise<BareNode> {
  const child = spawn(process.execPath, ["-e", "process.stdout.write('ready\\n'); setInterval(() => {}, 1 << 30);"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const running = (): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  // Last resort if the benchmark dies without stopping it: never leave the process behind.
  const onParentExit = (): void => {
    if (running() && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  };
  process.once("exit", onParentExit);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      process.removeListener("exit", onParentExit);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    // A child that never spawned has no pid and will never emit "exit".
    if (child.pid === undefined) return;
    if (running()) process.kill(child.pid, "SIGKILL");
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => done(new Error(`bare node did not start within ${timeoutMs} ms`)), timeoutMs);
      child.once("error", done);
      child.once("exit", (code) => done(new Error(`bare node exited (code ${String(code)}) before it was ready`)));
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        if (chunk.includes("ready")) done();
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  if (child.pid === undefined) throw new Error("bare node has no pid");
  return { pid: child.pid, stop };
}
