import type Dockerode from "dockerode";
import { LABELS } from "../../../src/docker/labels.js";

export interface RunningCount {
  running: number;
  max: number;
  starts: number;
}

/**
 * Follows Docker's own start/die events for a pool, so no moment between polls is missed. Watches
 * of several engines given one state count the runners of all of them together.
 */
export async function watchRunning(
  docker: Dockerode,
  pool: string,
  state: RunningCount = { running: 0, max: 0, starts: 0 },
) {
  const stream = (await docker.getEvents({
    filters: {
      type: ["container"],
      event: ["start", "die"],
      label: [`${LABELS.managed}=true`, `${LABELS.pool}=${pool}`],
    },
  })) as NodeJS.ReadableStream & { destroy(): void };
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
