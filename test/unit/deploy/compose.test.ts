import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const read = (file: string) => readFileSync(new URL(`../../../${file}`, import.meta.url), "utf8");

interface Service {
  env_file?: unknown;
  environment?: Record<string, string>;
  volumes?: (string | { type: string; source: string; target: string; bind?: Record<string, unknown> })[];
}

/**
 * No image can be pulled here, so `docker compose up` itself is not run; this checks the parts of
 * the compose file a first run depends on (the plugin that would validate it is not installed).
 */
describe("docker-compose.yml on a first run", () => {
  const compose = parse(read("docker-compose.yml")) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const app = compose.services.runnerhub;
  const dockerfile = read("Dockerfile");

  it("starts without a .env file", () => {
    expect(app?.env_file).toEqual([{ path: ".env", required: false }]);
  });

  it("keeps the setup page's settings on a named volume", () => {
    const settingsFile = /^ENV .*RUNNERHUB_ENV_FILE=(\S+)/m.exec(dockerfile)?.[1] ?? "";
    expect(settingsFile).toMatch(/^\/data\//);
    expect(app?.volumes).toContain("runnerhub-data:/data");
    expect(compose.volumes).toHaveProperty("runnerhub-data");
    expect(dockerfile).toMatch(/^RUN mkdir \/data && chown node:node \/data$/m);
  });

  it("runs on a supported Node.js LTS line, in both stages", () => {
    const base = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile)?.[1];
    // Node 24 is supported until April 2028; 20 reached its end of life in April 2026.
    expect(Number(base)).toBeGreaterThanOrEqual(24);
    expect(dockerfile.match(/^FROM (\S+)/gm)).toEqual(["FROM ${NODE_IMAGE}", "FROM ${NODE_IMAGE}"]);
  });

  it("refuses to start without the pools file instead of mounting an empty directory", () => {
    const pools = app?.volumes?.find(
      (volume) => typeof volume === "object" && volume.target === "/config/runnerhub.yml",
    );
    expect(pools).toMatchObject({ type: "bind", source: "./runnerhub.yml", bind: { create_host_path: false } });
    expect(app?.environment?.RUNNERHUB_CONFIG).toBe("/config/runnerhub.yml");
  });
});
