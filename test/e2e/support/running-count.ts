import type Dockerode from "dockerode";
import { LABELS } from "../../../src/docker/labels.js";

/** Follows Docker's own start/die events for a pool, so no moment between polls is missed. */
export async function watchRunning(docker: Dockerode, pool: string) {
  const stream = (await docker.getEvents({
    filters: {
      type: ["container"],
      event: ["start", "die"],
      label: [`${LABELS.managed}=true`, `${LABELS.pool}=${pool}`],
    },
  })) as NodeJS.ReadableStream & { destroy(): void };
  const state = { running: 0, max: 0, starts: 0 };
  let buffered = "";
  stream.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) {
      const event = JSON.parse(line) as { Action: string };
      if (event.Action === "start") {
        state.running++;
        state.starts++;
      } else state.running--;
      state.max = Math.max(state.max, state.running);
    }
  });
  return { state, stop: () => stream.destroy() };
}
