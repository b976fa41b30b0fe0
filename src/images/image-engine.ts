import type Docker from "dockerode";
import type { RegistryCredential } from "../config/registry-auth.js";
import { httpStatusOf } from "../http/error-status.js";
import { withDeadline } from "../docker/engine.js";

/** One line of Docker's pull progress stream. */
export interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

export interface ContainerImageUse {
  /** The image as the container was created with it (a reference or an id). */
  image: string;
  imageId: string;
}

/** The Docker calls image handling makes against one engine. */
export interface ImageEngine {
  /** The local image id of `image`, undefined when the engine does not have it. */
  imageId(image: string): Promise<string | undefined>;
  /**
   * Pulls `image`, reporting each progress event; rejects with the registry's message when the
   * pull fails (the stream may end in an error line after a 200) or `signal` aborts.
   */
  pull(
    image: string,
    credential: RegistryCredential | undefined,
    onEvent: (event: PullEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Images every container of the engine (running or not, runnerhub's or not) was made from. */
  containerImages(): Promise<ContainerImageUse[]>;
  /** Removes an image (a tag, or an id), never forced: Docker refuses one a container uses. */
  removeImage(image: string): Promise<"removed" | "missing" | "in-use">;
}

/** An error line in a pull stream, as an Error carrying the registry's message. */
export class PullError extends Error {
  constructor(
    readonly image: string,
    readonly detail: string,
    readonly statusCode: number | undefined,
  ) {
    super(`pulling ${image} failed: ${detail}`);
    this.name = "PullError";
  }
}

/** inspect, list and remove take an abort signal at run time; @types/dockerode declares only some. */
interface AbortableImageCalls {
  inspect(options: { abortSignal: AbortSignal }): Promise<{ Id: string }>;
  remove(options: { force: boolean; noprune: boolean; abortSignal: AbortSignal }): Promise<unknown>;
}

/**
 * Image calls against one engine. Every call but the pull has the engine's call deadline; a pull
 * is bounded by its caller (it may rightly take minutes).
 */
export function createImageEngine(name: string, docker: Docker, callTimeoutMs: number): ImageEngine {
  const image = (reference: string) => docker.getImage(reference) as unknown as AbortableImageCalls;
  return {
    async imageId(reference) {
      try {
        return (
          await withDeadline(name, "image inspect", callTimeoutMs, (abortSignal) =>
            image(reference).inspect({ abortSignal }),
          )
        ).Id;
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
    },

    async pull(reference, credential, onEvent, signal) {
      let stream: NodeJS.ReadableStream;
      try {
        stream = (await docker.pull(reference, {
          abortSignal: signal,
          ...(credential ? { authconfig: credential } : {}),
        })) as NodeJS.ReadableStream;
      } catch (error) {
        // docker-modem puts the engine's JSON answer in `json`; its message is the useful part.
        const json = (error as { json?: { message?: string } }).json;
        throw new PullError(reference, json?.message ?? (error as Error).message, httpStatusOf(error));
      }
      await new Promise<void>((resolve, reject) => {
        let failure: PullError | undefined;
        docker.modem.followProgress(
          stream,
          (error: Error | null) => {
            if (failure) reject(failure);
            else if (error) reject(new PullError(reference, error.message, undefined));
            else if (signal.aborted) reject(new PullError(reference, String(signal.reason), undefined));
            else resolve();
          },
          (event: PullEvent) => {
            if (event.error !== undefined || event.errorDetail !== undefined) {
              failure ??= new PullError(
                reference,
                event.errorDetail?.message ?? event.error ?? "unknown error",
                undefined,
              );
              return;
            }
            onEvent(event);
          },
        );
      });
    },

    async containerImages() {
      const containers = await withDeadline(name, "container list", callTimeoutMs, (abortSignal) =>
        docker.listContainers({ all: true, abortSignal }),
      );
      return containers.map((info) => ({ image: info.Image, imageId: info.ImageID }));
    },

    async removeImage(reference) {
      try {
        await withDeadline(name, "image remove", callTimeoutMs, (abortSignal) =>
          image(reference).remove({ force: false, noprune: false, abortSignal }),
        );
        return "removed";
      } catch (error) {
        const status = httpStatusOf(error);
        if (status === 404) return "missing";
        if (status === 409) return "in-use";
        throw error;
      }
    },
  };
}
