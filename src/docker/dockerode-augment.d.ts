/**
 * Options dockerode 5 and docker-modem accept at run time that @types/dockerode does not declare:
 * an abort signal (docker-modem hands it to the HTTP request) and the HTTP agent.
 */
import type { Agent } from "node:http";

declare module "dockerode" {
  interface DockerOptions {
    agent?: Agent;
  }
  interface ContainerRemoveOptions {
    abortSignal?: AbortSignal;
  }
  interface ContainerStopOptions {
    abortSignal?: AbortSignal;
  }
  interface ContainerStartOptions {
    abortSignal?: AbortSignal;
  }
}
