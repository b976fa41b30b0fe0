/**
 * Builds the stub runner image (test/sim/stub-runner) on a Docker engine that cannot pull:
 * the image is FROM scratch plus Debian's static busybox taken from this machine.
 */
import { chmod, copyFile, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Dockerode from "dockerode";

export const STUB_IMAGE_TAG = "runnerhub-stub-runner:test";

const BUSYBOX = "/bin/busybox";
const STUB_DIR = fileURLToPath(new URL("./stub-runner/", import.meta.url));
const PT_INTERP = 3;

/**
 * A dynamically linked busybox (Debian's plain `busybox` package) has no loader in a scratch
 * image and would fail the build with an obscure "no such file"; say what to install instead.
 */
async function assertStaticBusybox(path: string): Promise<void> {
  const file = await open(path, "r").catch((error: unknown) => {
    throw new Error(`${path} not found (${String(error)}): install busybox-static (apt-get install busybox-static)`);
  });
  try {
    const header = Buffer.alloc(64);
    await file.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) {
      throw new Error(`${path} is not a 64-bit little-endian ELF binary: install busybox-static`);
    }
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === PT_INTERP) {
        throw new Error(`${path} is dynamically linked: install busybox-static (apt-get install busybox-static)`);
      }
    }
  } finally {
    await file.close();
  }
}

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

function followBuild(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<BuildEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: unknown[]) => {
      if (error) reject(error);
      else resolve(output.filter((o): o is BuildEvent => typeof o === "object" && o !== null));
    });
  });
}

export async function buildStubImage(docker: Dockerode, tag = STUB_IMAGE_TAG): Promise<void> {
  await assertStaticBusybox(BUSYBOX);
  const context = await mkdtemp(join(tmpdir(), "runnerhub-stub-image-"));
  try {
    await copyFile(join(STUB_DIR, "Dockerfile"), join(context, "Dockerfile"));
    await copyFile(join(STUB_DIR, "run.sh"), join(context, "run.sh"));
    await copyFile(BUSYBOX, join(context, "busybox"));
    // The modes travel in the tar: a checkout without the executable bit must still build a working image.
    await chmod(join(context, "run.sh"), 0o755);
    await chmod(join(context, "busybox"), 0o755);
    const stream = await docker.buildImage(
      { context, src: ["Dockerfile", "run.sh", "busybox"] },
      { t: tag, rm: true, forcerm: true },
    );
    const events = await followBuild(docker, stream);
    const failure = events.find((e) => e.error !== undefined || e.errorDetail !== undefined);
    if (failure) {
      const log = events
        .map((e) => e.stream ?? "")
        .join("")
        .trim();
      throw new Error(
        `building ${tag} failed: ${failure.errorDetail?.message ?? failure.error ?? "unknown error"}\n${log}`,
      );
    }
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
