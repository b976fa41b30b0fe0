// Values test/support/global-setup.ts hands to every test through `inject(...)`.
export {};

declare module "vitest" {
  export interface ProvidedContext {
    /** redis://127.0.0.1:PORT of the Redis the tests share. */
    redisUrl: string;
    /** unix:///…/docker.sock (or tcp://127.0.0.1:PORT) of the Docker engine the tests share. */
    dockerHost: string;
    /** Tag of the stub runner image, built on that engine before the tests start. */
    stubImage: string;
  }
}
