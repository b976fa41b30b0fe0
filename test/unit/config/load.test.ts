import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadDotEnv, loadPools } from "../../../src/config/load.js";

const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();

function writePools(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-config-"));
  const file = path.join(dir, "pools.yml");
  writeFileSync(file, text);
  return file;
}

const VALID = `
- name: linux
  labels: [self-hosted, linux, x64]
  image: ghcr.io/actions/actions-runner:latest
  maxRunners: 10
  minIdle: 1
  warmScope: acme
  runnerGroup: Default
  resources: { memory: 2g, cpus: 1.5, pids: 512 }
  network: bridge
  idleTimeout: 90s
  maxLifetime: 6h
`;

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadPools", () => {
  it("parses sizes, durations and defaults", () => {
    const [pool] = loadPools(writePools(VALID));
    expect(pool).toMatchObject({
      name: "linux",
      maxRunners: 10,
      minIdle: 1,
      registration: "jit",
      command: ["/home/runner/run.sh"],
      resources: { memory: 2 * 1024 ** 3, cpus: 1.5, pids: 512 },
      idleTimeout: 90_000,
      maxLifetime: 6 * 3600_000,
    });
  });

  it("accepts a mapping with a pools list", () => {
    const file = writePools(`pools:\n${VALID.replace(/^/gm, "  ")}`);
    expect(loadPools(file).map((pool) => pool.name)).toEqual(["linux"]);
  });

  it("names the file and the field of every problem", () => {
    const file = writePools(`
- name: linux
  labels: [linux]
  image: runner
  maxRunners: -1
  resources: { memory: lots }
  idleTimeout: soon
  surprise: true
`);
    let caught: unknown;
    try {
      loadPools(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(/pools\[0\]\.maxRunners/);
    expect(message).toMatch(/pools\[0\]\.resources\.memory: "lots" is not a size/);
    expect(message).toMatch(/pools\[0\]\.idleTimeout: "soon" is not a duration/);
    expect(message).toMatch(/surprise/);
  });

  it("requires self-hosted among a pool's labels and minIdle within maxRunners", () => {
    const problems = problemsOf(() =>
      loadPools(writePools(`- { name: a, labels: [linux], image: x, maxRunners: 1, minIdle: 2 }`)),
    );
    expect(problems).toContain('pools[0].labels: must include "self-hosted"');
    expect(problems).toContain("pools[0].minIdle: must not exceed maxRunners (1)");
  });

  it("refuses duplicate pool names", () => {
    const problems = problemsOf(() =>
      loadPools(
        writePools(`
- { name: a, labels: [self-hosted], image: x, maxRunners: 1 }
- { name: a, labels: [self-hosted, big], image: x, maxRunners: 1 }
`),
      ),
    );
    expect(problems).toEqual(['pools[1].name: duplicate pool name "a"']);
  });

  it("takes an oomRetryPool that names another pool, declared before or after", () => {
    const pools = loadPools(
      writePools(`
- { name: small, labels: [self-hosted, linux], image: x, maxRunners: 1, oomRetryPool: big }
- { name: big, labels: [self-hosted, linux, big], image: x, maxRunners: 1 }
`),
    );
    expect(pools.map((pool) => pool.oomRetryPool)).toEqual(["big", undefined]);
  });

  it("refuses an oomRetryPool naming the pool itself or no pool", () => {
    const problems = problemsOf(() =>
      loadPools(
        writePools(`
- { name: a, labels: [self-hosted], image: x, maxRunners: 1, oomRetryPool: a }
- { name: b, labels: [self-hosted], image: x, maxRunners: 1, oomRetryPool: huge }
`),
      ),
    );
    expect(problems).toEqual([
      "pools[0].oomRetryPool: must name another pool, not the pool itself",
      'pools[1].oomRetryPool: no pool named "huge"; pools: a, b',
    ]);
  });

  it("takes an overflow that names another pool", () => {
    const pools = loadPools(
      writePools(`
- { name: small, labels: [self-hosted, linux], image: x, maxRunners: 1, overflow: big }
- { name: big, labels: [self-hosted, linux, big], image: x, maxRunners: 1, overflow: huge }
- { name: huge, labels: [self-hosted, linux, big, huge], image: x, maxRunners: 1 }
`),
    );
    expect(pools.map((pool) => pool.overflow)).toEqual(["big", "huge", undefined]);
  });

  it("refuses an overflow naming the pool itself, no pool, or going round in a loop", () => {
    const problems = problemsOf(() =>
      loadPools(
        writePools(`
- { name: a, labels: [self-hosted], image: x, maxRunners: 1, overflow: a }
- { name: b, labels: [self-hosted], image: x, maxRunners: 1, overflow: huge }
- { name: c, labels: [self-hosted], image: x, maxRunners: 1, overflow: d }
- { name: d, labels: [self-hosted], image: x, maxRunners: 1, overflow: e }
- { name: e, labels: [self-hosted], image: x, maxRunners: 1, overflow: c }
- { name: f, labels: [self-hosted], image: x, maxRunners: 1, overflow: c }
`),
      ),
    );
    expect(problems).toEqual([
      'pools[0].overflow: pool "a" cannot overflow to itself; name another pool',
      'pools[1].overflow: pool "b" overflows to "huge", which no pool is called; pools: a, b, c, d, e, f',
      "pools[2].overflow: overflow goes round in a loop (c → d → e → c); end the chain at a pool without overflow",
    ]);
  });

  it("explains a missing file and broken YAML", () => {
    expect(problemsOf(() => loadPools("/nonexistent/pools.yml"))[0]).toMatch(/RUNNERHUB_CONFIG: file not found/);
    expect(problemsOf(() => loadPools(writePools("- name: [unclosed")))[0]).toMatch(/not valid YAML/);
  });
});

describe("loadConfig", () => {
  const base = () => ({
    APP_ID: "123",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: "s3cret-value",
    RUNNERHUB_CONFIG: writePools(VALID),
  });

  it("serves the setup page while the app is not registered", () => {
    expect(loadConfig({}, tmpdir())).toMatchObject({ mode: "setup", http: { port: 3000 } });
    expect(loadConfig({ PORT: "4000" }, tmpdir())).toMatchObject({ mode: "setup", http: { port: 4000 } });
  });

  it("takes a setup token of at least 16 characters", () => {
    expect(loadConfig({ RUNNERHUB_SETUP_TOKEN: "setup-token-0123456789" }, tmpdir())).toMatchObject({
      mode: "setup",
      setupToken: "setup-token-0123456789",
    });
    expect(() => loadConfig({ RUNNERHUB_SETUP_TOKEN: "short" }, tmpdir())).toThrow(
      /RUNNERHUB_SETUP_TOKEN: use at least 16 characters/,
    );
  });

  it("never falls back to the setup page once the settings file holds an App, naming the file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-settings-"));
    const file = path.join(dir, "runnerhub.env");
    writeFileSync(file, "APP_ID=12\nWEBHOOK_SECRET=s3cret\n");
    expect(() => loadConfig({ RUNNERHUB_ENV_FILE: file, APP_ID: "12" }, dir)).toThrow(
      new RegExp(`${file}[^]*holds APP_ID, WEBHOOK_SECRET, yet the private key`),
    );
    // A copy of .env.example (the App's settings empty) is no App yet.
    writeFileSync(file, "APP_ID=\nPRIVATE_KEY=\nLOG_LEVEL=info\n");
    expect(loadConfig({ RUNNERHUB_ENV_FILE: file }, dir)).toMatchObject({ mode: "setup", settingsFile: file });
  });

  it("refuses a settings file it cannot read, naming it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-settings-"));
    // A folder where the file should be: unreadable as a file, whoever runs the test (root too).
    const file = path.join(dir, "runnerhub.env");
    mkdirSync(file);
    expect(() => loadDotEnv(dir, { RUNNERHUB_ENV_FILE: file })).toThrow(
      new RegExp(`${file}[^]*cannot read the settings file \\(EISDIR\\)`),
    );
    expect(() => loadConfig({ RUNNERHUB_ENV_FILE: file }, dir)).toThrow(/cannot read the settings file/);
  });

  it("builds a typed config from the environment", () => {
    const config = loadConfig(
      {
        ...base(),
        GHE_HOST: "127.0.0.1:8080",
        GHE_PROTOCOL: "http",
        DOCKER_HOST: "unix:///tmp/d.sock",
        RUNNERHUB_ROLES: "worker",
      },
      tmpdir(),
    );
    if (config.mode !== "run") throw new Error("expected run mode");
    expect(config.github.baseUrl).toBe("http://127.0.0.1:8080/api/v3");
    expect(config.github.webUrl).toBe("http://127.0.0.1:8080");
    expect(config.docker.connection).toEqual({ kind: "unix", socketPath: "/tmp/d.sock" });
    expect([...config.roles]).toEqual(["worker"]);
    expect(config.stopGraceMs).toBe(30_000);
    expect(config.pools).toHaveLength(1);
  });

  it("defaults to github.com, all roles and the local Docker socket", () => {
    const config = loadConfig(base(), tmpdir());
    if (config.mode !== "run") throw new Error("expected run mode");
    expect(config.github.baseUrl).toBe("https://api.github.com");
    expect([...config.roles].sort()).toEqual(["webhook", "worker"]);
    expect(config.docker.connection).toEqual({ kind: "unix", socketPath: "/var/run/docker.sock" });
    expect(config.docker.callTimeoutMs).toBe(30_000);
    expect(config.redis).toBeUndefined();
    expect(config.logFormat).toBe("json");
    expect(loadConfig({ ...base(), LOG_FORMAT: "pretty" }, tmpdir())).toMatchObject({ logFormat: "pretty" });
  });

  it("refuses a bad Docker engine setting, naming the variable, and takes RUNNERHUB_DOCKER_TIMEOUT", () => {
    expect(
      problemsOf(() => loadConfig({ ...base(), DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS_VERIFY: "0" }, tmpdir())),
    ).toEqual([expect.stringMatching(/^DOCKER_TLS_VERIFY: /)]);
    const config = loadConfig({ ...base(), RUNNERHUB_DOCKER_TIMEOUT: "5s" }, tmpdir());
    if (config.mode !== "run") throw new Error("expected run mode");
    expect(config.docker.callTimeoutMs).toBe(5_000);
  });

  it("gives every GitHub request a deadline: 30 s unless RUNNERHUB_GITHUB_TIMEOUT says otherwise", () => {
    expect(loadConfig(base(), tmpdir())).toMatchObject({ githubTimeoutMs: 30_000 });
    expect(loadConfig({ ...base(), RUNNERHUB_GITHUB_TIMEOUT: "2s" }, tmpdir())).toMatchObject({
      githubTimeoutMs: 2_000,
    });
    expect(problemsOf(() => loadConfig({ ...base(), RUNNERHUB_GITHUB_TIMEOUT: "soon" }, tmpdir()))).toEqual([
      expect.stringMatching(/^RUNNERHUB_GITHUB_TIMEOUT: "soon" is not a duration/),
    ]);
  });

  it("takes Redis through Sentinel, from REDIS_SENTINELS or a redis+sentinel:// REDIS_URL", () => {
    const sentinels = { REDIS_SENTINELS: "127.0.0.1:26379,127.0.0.1:26380", REDIS_SENTINEL_NAME: "main" };
    expect(loadConfig({ ...base(), ...sentinels }, tmpdir())).toMatchObject({
      redis: { kind: "sentinel", name: "main", sentinels: [{ port: 26379 }, { port: 26380 }] },
    });
    expect(loadConfig({ ...base(), REDIS_URL: "redis+sentinel://127.0.0.1:26379/main" }, tmpdir())).toMatchObject({
      redis: { kind: "sentinel", name: "main" },
    });
    expect(problemsOf(() => loadConfig({ ...base(), REDIS_SENTINELS: "127.0.0.1" }, tmpdir()))).toEqual([
      expect.stringMatching(/^REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/),
    ]);
  });

  it("names each bad variable", () => {
    const problems = problemsOf(() =>
      loadConfig(
        {
          ...base(),
          PORT: "http",
          REDIS_URL: "localhost:6379",
          RUNNERHUB_ROLES: "web",
          ADMIN_TOKEN: "short",
          LOG_FORMAT: "text",
        },
        tmpdir(),
      ),
    );
    for (const name of ["PORT", "REDIS_URL", "ADMIN_TOKEN", "RUNNERHUB_ROLES", "LOG_FORMAT"]) {
      expect(
        problems.some((problem) => problem.startsWith(`${name}: `)),
        name,
      ).toBe(true);
    }
  });

  it("keeps the shared GitHub budget within GitHub's 900 points a minute by default, and checks the reserve", () => {
    const config = loadConfig(base(), tmpdir());
    if (config.mode !== "run") throw new Error("expected run mode");
    const { burstPoints, pointsPerMinute, reservePoints } = config.githubBudget;
    expect(burstPoints + pointsPerMinute).toBeLessThanOrEqual(900);
    expect(reservePoints).toBeLessThan(burstPoints);
    expect(
      problemsOf(() =>
        loadConfig({ ...base(), RUNNERHUB_GITHUB_BURST: "50", RUNNERHUB_GITHUB_RESERVE: "48" }, tmpdir()),
      ),
    ).toEqual([expect.stringMatching(/^RUNNERHUB_GITHUB_RESERVE: 48 leaves no room for one write/)]);
  });

  it("beats every 5 s and gives an engine up after 60 s by default, and keeps the timeout above three beats", () => {
    const config = loadConfig(base(), tmpdir());
    if (config.mode !== "run") throw new Error("expected run mode");
    expect([config.heartbeatIntervalMs, config.heartbeatTimeoutMs]).toEqual([5000, 60_000]);
    expect(
      problemsOf(() =>
        loadConfig({ ...base(), RUNNERHUB_HEARTBEAT_INTERVAL: "10s", RUNNERHUB_HEARTBEAT_TIMEOUT: "20s" }, tmpdir()),
      ),
    ).toEqual([expect.stringMatching(/^RUNNERHUB_HEARTBEAT_TIMEOUT: must be at least three/)]);
  });

  it("reads the image settings and checks that a pool's registryAuth names known credentials", () => {
    const config = loadConfig(
      {
        ...base(),
        RUNNERHUB_IMAGE_GC_AGE: "off",
        RUNNERHUB_REGISTRY_AUTH: JSON.stringify({ auths: { "ghcr.io": { username: "u", password: "hidden-pw" } } }),
      },
      tmpdir(),
    );
    if (config.mode !== "run") throw new Error("expected run mode");
    expect(config.imageGcAgeMs).toBeUndefined();
    expect(config.imageRefreshIntervalMs).toBe(15 * 60_000);
    expect(config.pools[0]?.pull).toBe("missing");
    expect(config.registryAuths.get("ghcr.io")?.username).toBe("u");
    const defaults = loadConfig(base(), tmpdir());
    if (defaults.mode !== "run") throw new Error("expected run mode");
    expect(defaults.imageGcAgeMs).toBe(24 * 3600_000);

    const poolsFile = writePools(VALID.replace("  image:", "  registryAuth: quay.io\n  pull: always\n  image:"));
    let error: unknown;
    try {
      loadConfig({ ...base(), RUNNERHUB_CONFIG: poolsFile }, tmpdir());
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).source).toBe(poolsFile);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^pools\[0\]\.registryAuth: no entry "quay\.io" in the registry credentials/),
    ]);
    expect(problemsOf(() => loadConfig({ ...base(), RUNNERHUB_IMAGE_GC_AGE: "soon" }, tmpdir()))[0]).toMatch(
      /^RUNNERHUB_IMAGE_GC_AGE: /,
    );
  });

  it("refuses a pull policy or image it does not know", () => {
    const problems = problemsOf(() =>
      loadPools(
        writePools(
          VALID.replace("  image: ghcr.io/actions/actions-runner:latest", "  image: Not An Image\n  pull: sometimes"),
        ),
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^pools\[0\]\.image: not an image reference/),
      expect.stringMatching(/^pools\[0\]\.pull: /),
    ]);
  });

  it("requires the webhook secret once the app is registered", () => {
    const { WEBHOOK_SECRET: _unused, ...env } = base();
    expect(problemsOf(() => loadConfig(env, tmpdir()))[0]).toMatch(/^WEBHOOK_SECRET: required/);
  });

  it("never puts the private key into an error", () => {
    let message = "";
    try {
      loadConfig({ ...base(), PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY----- not really" }, tmpdir());
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/PRIVATE_KEY/);
    expect(message).not.toContain("not really");
  });
});

describe("runnerhub.example.yml", () => {
  it("is a valid pools file", () => {
    const file = fileURLToPath(new URL("../../../runnerhub.example.yml", import.meta.url));
    expect(loadPools(file).map((pool) => pool.name)).toEqual(["linux", "big-memory"]);
  });

  it("shows the pool fields of job sizes, label-less jobs, OOM sizes, fair share, overflow and placement", () => {
    const file = fileURLToPath(new URL("../../../runnerhub.example.yml", import.meta.url));
    const [linux, big] = loadPools(file);
    expect(linux).toMatchObject({
      sizes: [{ label: "size-large" }],
      groupDefault: true,
      oomRetryPool: "big-memory",
      oomRetrySize: "size-xl",
      overflow: "big-memory",
      placement: "spread",
    });
    expect(big).toMatchObject({
      sizes: [{ label: "size-xl" }],
      perRepository: { maxRunners: 2 },
      engines: { labels: ["highmem"] },
      placement: "pack",
    });
  });
});

describe("loadDotEnv", () => {
  it("adds .env's variables without overriding the environment", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-dotenv-"));
    writeFileSync(path.join(dir, ".env"), "RUNNERHUB_DOTENV_TEST_A=from-file\nRUNNERHUB_DOTENV_TEST_B=from-file\n");
    process.env.RUNNERHUB_DOTENV_TEST_B = "from-env";
    try {
      loadDotEnv(dir);
      expect(process.env.RUNNERHUB_DOTENV_TEST_A).toBe("from-file");
      expect(process.env.RUNNERHUB_DOTENV_TEST_B).toBe("from-env");
    } finally {
      delete process.env.RUNNERHUB_DOTENV_TEST_A;
      delete process.env.RUNNERHUB_DOTENV_TEST_B;
    }
  });
});
