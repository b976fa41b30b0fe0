import type Dockerode from "dockerode";
import { LABELS } from "../../../src/docker/labels.js";

/**
 * Follows Docker's own start/die events for a pool, so no moment between polls is missed; given
 * several engines, it counts the runners of all of them together.
 */
export async function watchRunning(engines: Dockerode | Dockerode[], pool: string) {
  const state = { running: 0, max: 0, starts: 0 };
  const streams = await Promise.all([engines].flat().map((docker) => followStartsAndDies(docker, pool, state)));
  return { state, stop: () => streams.forEach((stream) => stream.destroy()) };
}

/** A Docker event as the engine streams it (the fields these tests read). */
export interface DockerEvent {
  Action: string;
  timeNano: number;
  Actor: { Attributes: Record<string, string> };
}

/** Follows Docker's container events matching `filters`, one parsed event at a time; returns the stream. */
export async function followDockerEvents(
  docker: Dockerode,
  filters: { event: string[]; label: string[] },
  onEvent: (event: DockerEvent) => void,
) {
  const stream = (await docker.getEvents({ filters: { type: ["container"], ...filters } })) as NodeJS.ReadableStream & {
    destroy(): void;
  };
  let buffered = "";
  stream.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) onEvent(JSON.parse(line) as DockerEvent);
  });
  return stream;
}

function followStartsAndDies(docker: Dockerode, pool: string, state: { running: number; max: number; starts: number }) {
  const filters = { event: ["start", "die"], label: [`${LABELS.managed}=true`, `${LABELS.pool}=${pool}`] };
  return followDockerEvents(docker, filters, (event) => {
    if (event.Action === "start") {
      state.running++;
      state.starts++;
    } else state.running--;
    state.max = Math.max(state.max, state.running);
  });
}
