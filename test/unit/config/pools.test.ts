import { describe, expect, it } from "vitest";
import { DEFAULT_RUNNER_LIMITS } from "../../../src/tunables.js";
import { exposesDockerSocket, poolsFileSchema, poolWarnings, type Pool } from "../../../src/config/pools.js";

const base = { name: "p", labels: ["self-hosted"], image: "runner:test", maxRunners: 1 };

function parse(fields: Record<string, unknown>): Pool {
  const [pool] = poolsFileSchema.parse([{ ...base, ...fields }]);
  if (!pool) throw new Error("no pool parsed");
  return pool;
}

function problems(fields: Record<string, unknown>): string[] {
  const result = poolsFileSchema.safeParse([{ ...base, ...fields }]);
  if (result.success) throw new Error("expected the pool to be refused");
  return result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("network opt-in", () => {
  it("refuses host and container networks without allowHostNetwork, naming the pool and the fix", () => {
    for (const network of ["host", "container:other"]) {
      const [problem] = problems({ network });
      expect(problem).toMatch(/^0\.network: /);
      expect(problem).toContain(`"${network}"`);
      expect(problem).toContain('pool "p"');
      expect(problem).toContain("allowHostNetwork: true");
    }
  });

  it("accepts them with allowHostNetwork and warns at start", () => {
    const pool = parse({ network: "host", allowHostNetwork: true, resources: { memory: "1g", pids: 100 } });
    expect(pool.network).toBe("host");
    expect(poolWarnings([pool])).toEqual([{ pool: "p", message: 'jobs share the network "host" (allowHostNetwork)' }]);
  });

  it("needs no opt-in for bridge, none or a user-defined network", () => {
    for (const network of ["bridge", "none", "ci-net"]) expect(parse({ network }).network).toBe(network);
  });
});

describe("volumes", () => {
  it("mounts named volumes, read-write unless readOnly", () => {
    const pool = parse({
      volumes: [
        { source: "toolcache", target: "/opt/hostedtoolcache", readOnly: true },
        { source: "npm-cache", target: "/home/runner/.npm/" },
      ],
    });
    expect(pool.volumes).toEqual([
      { source: "toolcache", target: "/opt/hostedtoolcache", readOnly: true },
      { source: "npm-cache", target: "/home/runner/.npm", readOnly: false },
    ]);
  });

  it("refuses host paths without allowHostPaths, and accepts them with it", () => {
    const [problem] = problems({ volumes: [{ source: "/srv/cache", target: "/cache" }] });
    expect(problem).toMatch(/^0\.volumes\.0\.source: \/srv\/cache is a host path/);
    expect(problem).toContain("allowHostPaths: true");
    const pool = parse({ allowHostPaths: true, volumes: [{ source: "/srv/cache", target: "/cache", readOnly: true }] });
    expect(poolWarnings([pool])).toContainEqual({
      pool: "p",
      message: "jobs mount the host path /srv/cache at /cache read-only",
    });
  });

  it("refuses the Docker socket, even with allowHostPaths, unless dockerInDocker", () => {
    for (const source of ["/var/run/docker.sock", "/run/docker.sock", "/home/me/.docker/run/docker.sock", "/var/run"]) {
      const [problem] = problems({ allowHostPaths: true, volumes: [{ source, target: "/x" }] });
      expect(problem).toContain("exposes the Docker socket");
      expect(problem).toContain("dockerInDocker: true");
    }
    const pool = parse({
      dockerInDocker: true,
      allowHostPaths: true,
      volumes: [{ source: "/var/run/docker.sock", target: "/var/run/docker.sock" }],
    });
    expect(pool.volumes).toHaveLength(1);
  });

  it("refuses relative targets, odd sources, unknown fields and a target mounted twice", () => {
    expect(problems({ volumes: [{ source: "cache", target: "cache" }] })[0]).toMatch(
      /0\.volumes\.0\.target: use an absolute path/,
    );
    expect(problems({ volumes: [{ source: "../up", target: "/x" }] })[0]).toMatch(
      /0\.volumes\.0\.source: use a volume name/,
    );
    expect(problems({ volumes: [{ source: "a", target: "/x", mode: "rw" }] })[0]).toMatch(/mode/);
    expect(
      problems({
        volumes: [
          { source: "a", target: "/x" },
          { source: "b", target: "/x/" },
        ],
      }),
    ).toEqual(["0.volumes.1.target: /x is mounted twice"]);
  });
});

describe("limits", () => {
  it("fills unset memory and pids limits with the documented defaults and warns", () => {
    const pool = parse({ resources: { cpus: 2 } });
    expect(pool.resources).toEqual({
      memory: DEFAULT_RUNNER_LIMITS.memoryBytes,
      pids: DEFAULT_RUNNER_LIMITS.pids,
      cpus: 2,
    });
    expect(pool.defaultedLimits).toEqual(["memory", "pids"]);
    expect(poolWarnings([pool]).map((warning) => warning.message)).toEqual([
      "no resources.memory set; using the default 4g",
      "no resources.pids set; using the default 4096",
    ]);
  });

  it("keeps limits the file sets, without warnings", () => {
    const pool = parse({ resources: { memory: "512m", pids: 256 } });
    expect(pool.resources).toEqual({ memory: 512 * 1024 ** 2, pids: 256 });
    expect(pool.defaultedLimits).toEqual([]);
    expect(poolWarnings([pool])).toEqual([]);
  });
});

describe("exposesDockerSocket", () => {
  it("sees the socket and the folders holding it through odd spellings", () => {
    expect(exposesDockerSocket("/var/run/../run/docker.sock")).toBe(true);
    expect(exposesDockerSocket("/")).toBe(true);
    expect(exposesDockerSocket("/run/")).toBe(true);
    expect(exposesDockerSocket("/var/lib/cache")).toBe(false);
  });
});

describe("warm runner fields", () => {
  const warm = { warmScope: "acme", maxRunners: 10 };

  it("parses a schedule, defaulting its time zone to UTC, and an adaptive pool", () => {
    const pool = parse({
      ...warm,
      schedule: [
        { cron: "* 8-18 * * 1-5", timezone: "Europe/Berlin", minIdle: 4 },
        { cron: "0 * * * *", minIdle: 1 },
      ],
      warm: "adaptive",
      maxIdle: 6,
      forecastWindow: "2m",
    });
    expect(pool.schedule).toEqual([
      { cron: "* 8-18 * * 1-5", timezone: "Europe/Berlin", minIdle: 4 },
      { cron: "0 * * * *", timezone: "UTC", minIdle: 1 },
    ]);
    expect(pool).toMatchObject({ warm: "adaptive", maxIdle: 6, forecastWindow: 120_000 });
  });

  it("defaults to a static pool with no schedule and a 5 minute forecast window", () => {
    expect(parse({})).toMatchObject({ schedule: [], warm: "static", forecastWindow: 300_000 });
    expect(parse({}).maxIdle).toBeUndefined();
  });

  it("refuses a bad cron expression or time zone, naming the pool and the field", () => {
    for (const cron of ["* 25 * * *", "* * *", "*/5 * * * * *", "soon"]) {
      const [problem] = problems({ ...warm, schedule: [{ cron, minIdle: 1 }] });
      expect(problem).toMatch(/^0\.schedule\.0\.cron: /);
      expect(problem).toContain(`"${cron}"`);
      expect(problem).toContain('pool "p"');
    }
    const [problem] = problems({ ...warm, schedule: [{ cron: "* * * * *", timezone: "Mars/Olympus", minIdle: 1 }] });
    expect(problem).toMatch(/^0\.schedule\.0\.timezone: "Mars\/Olympus" is not a time zone/);
    expect(problem).toContain('pool "p"');
  });

  it("needs warmScope for a schedule with a floor or an adaptive pool", () => {
    expect(problems({ schedule: [{ cron: "* * * * *", minIdle: 1 }] })[0]).toMatch(/^0\.warmScope: required/);
    expect(problems({ warm: "adaptive", maxRunners: 2 })[0]).toMatch(/^0\.warmScope: required/);
    expect(parse({ schedule: [{ cron: "* * * * *", minIdle: 0 }] }).warmScope).toBeUndefined();
  });

  it("keeps floors and maxIdle within maxRunners, and maxIdle to adaptive pools at or above every floor", () => {
    expect(problems({ ...warm, schedule: [{ cron: "* * * * *", minIdle: 11 }] })).toEqual([
      "0.schedule.0.minIdle: must not exceed maxRunners (10)",
    ]);
    expect(problems({ ...warm, maxIdle: 3 })).toEqual(["0.maxIdle: only an adaptive pool (warm: adaptive) uses it"]);
    expect(problems({ ...warm, warm: "adaptive", maxIdle: 11 })).toEqual([
      "0.maxIdle: must not exceed maxRunners (10)",
    ]);
    expect(
      problems({ ...warm, warm: "adaptive", minIdle: 1, maxIdle: 2, schedule: [{ cron: "* * * * *", minIdle: 3 }] }),
    ).toEqual(["0.maxIdle: must be at least the highest floor, minIdle or schedule (3)"]);
  });
});

describe("perRepository (fair share)", () => {
  it("accepts a per-repository ceiling up to the pool's", () => {
    expect(parse({ maxRunners: 4, perRepository: { maxRunners: 3 } }).perRepository).toEqual({ maxRunners: 3 });
    expect(parse({}).perRepository).toBeUndefined();
  });

  it("refuses a ceiling above maxRunners, and unknown fields", () => {
    expect(problems({ maxRunners: 2, perRepository: { maxRunners: 3 } })).toEqual([
      "0.perRepository.maxRunners: must not exceed the pool's maxRunners (2)",
    ]);
    expect(problems({ maxRunners: 2, perRepository: { max: 1 } }).join("\n")).toContain("perRepository");
  });

  it("refuses warm runners in a fair-share pool, naming the pool, the field and the fix", () => {
    for (const fields of [
      { minIdle: 1, warmScope: "acme" },
      { warm: "adaptive", warmScope: "acme" },
      { schedule: [{ cron: "* * * * *", minIdle: 1 }], warmScope: "acme" },
    ]) {
      const [problem] = problems({ maxRunners: 4, perRepository: { maxRunners: 2 }, ...fields });
      expect(problem).toMatch(/^0\.(minIdle|warm|schedule): /);
      expect(problem).toContain('pool "p" has perRepository');
      expect(problem).toContain("keep warm runners in another pool");
    }
  });
});

describe("job sizes and groupDefault", () => {
  it("reads sizes with Docker-style memory", () => {
    const parsed = parse({ sizes: [{ label: "size-large", resources: { memory: "8g", cpus: 4 } }] });
    expect(parsed.sizes).toEqual([{ label: "size-large", resources: { memory: 8 * 1024 ** 3, cpus: 4 } }]);
    expect(parsed.groupDefault).toBe(false);
  });

  it("refuses a size label that is one of the pool's labels, or declared twice", () => {
    expect(problems({ sizes: [{ label: "Self-Hosted", resources: {} }] })[0]).toMatch(
      /^0\.sizes\.0\.label: .*one of pool "p"'s labels/,
    );
    const twice = { label: "size-large", resources: {} };
    expect(problems({ sizes: [twice, twice] })[0]).toMatch(/^0\.sizes\.1\.label: .*declared twice/);
  });

  it("refuses an oomRetrySize the re-run's pool does not offer, naming the sizes it has", () => {
    const sizes = [{ label: "size-large", resources: { memory: "8g" } }];
    expect(problems({ sizes, oomRetrySize: "size-huge" })[0]).toMatch(
      /^0\.oomRetrySize: pool "p" offers no size "size-huge"; its sizes: size-large/,
    );
    expect(parse({ sizes, oomRetrySize: "size-large" }).oomRetrySize).toBe("size-large");
  });

  it("refuses a second groupDefault pool, saying why", () => {
    const result = poolsFileSchema.safeParse([
      { ...base, groupDefault: true },
      { ...base, name: "q", groupDefault: true },
    ]);
    expect(result.success).toBe(false);
    const [issue] = result.error?.issues ?? [];
    expect(`${issue?.path.join(".")}: ${issue?.message}`).toMatch(
      /^1\.groupDefault: pool "p" is already groupDefault; .*runner group/,
    );
  });
});
