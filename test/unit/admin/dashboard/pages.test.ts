import { describe, expect, it } from "vitest";
import {
  renderDashboard,
  renderLogin,
  renderRunnerPage,
  renderSections,
  SECTION_IDS,
} from "../../../../src/admin/dashboard/pages.js";
import type { RunnerDetail } from "../../../../src/admin/schemas.js";
import { AT, crashLoopingOverview, knownOverview, runner } from "../../support/overview.js";

/** Markup with its layout whitespace taken out, so assertions read like the elements they look for. */
const flat = (markup: { text: string }) =>
  markup.text
    .replace(/\s+/g, " ")
    .replace(/>\s+</g, "><")
    .replace(/\s*\/?>/g, ">");

describe("the dashboard's sections", () => {
  const sections = renderSections(knownOverview());

  it("are the ones the page has a live region for", () => {
    expect(Object.keys(sections)).toEqual([...SECTION_IDS]);
    const page = flat(renderDashboard(knownOverview()));
    for (const id of SECTION_IDS) expect(page).toContain(`<div data-live="${id}"`);
  });

  it("show each pool's limits, counts and slots", () => {
    expect(flat(sections.pools)).toContain(
      '<tr data-pool="linux" data-health="ok"><th scope="row">linux</th><td>self-hosted, linux</td><td class="num">4</td><td class="num">1</td><td class="num">1</td><td class="num">1</td><td class="num">1</td><td class="num">2</td><td class="num">1</td>',
    );
    expect(flat(sections.pools)).toContain('<meter min="0" max="4" value="3" aria-label="slots of linux in use">');
  });

  it("mark a crash-looping pool and show its last runner's last lines, escaped", () => {
    const pools = flat(renderSections(crashLoopingOverview()).pools);
    expect(pools).toContain(
      '<tr data-pool="gpu" data-health="crash-looping"><th scope="row">gpu <span class="badge badge-crash-looping">crash-looping</span></th>',
    );
    expect(pools).toContain('<div class="crash-loop" data-crash-loop="gpu">');
    expect(pools).toContain('<a href="/admin/runners/gpu-dddd0005">gpu-dddd0005</a> (crashed, exit code 1)');
    expect(pools).toContain("config &lt;bad&gt;");
    expect(pools).not.toContain('data-crash-loop="linux"');
  });

  it("show a fair-share pool's repositories with their running, waiting and parked, and nothing for other pools", () => {
    const overview = knownOverview();
    const [first, ...rest] = overview.pools;
    if (!first) throw new Error("the known overview has a pool");
    const fairShare = {
      maxRunnersPerRepository: 3,
      repositories: [
        { repository: "acme/a", running: 3, waiting: 9, parked: 9 },
        { repository: "acme/<b>", running: 1, waiting: 1, parked: 1 },
      ],
    };
    const pools = flat(renderSections({ ...overview, pools: [{ ...first, fairShare }, ...rest] }).pools);
    expect(pools).toContain(`<div data-fair-share="${first.name}">`);
    expect(pools).toContain("at most 3 runners each");
    expect(pools).toContain(
      '<tr data-repository="acme/a"><th scope="row">acme/a</th><td class="num">3</td><td class="num">9</td><td class="num">9</td></tr>',
    );
    expect(pools).toContain("acme/&lt;b&gt;");
    expect(flat(sections.pools)).not.toContain("data-fair-share");
  });

  it("show engines with their health and capacity", () => {
    expect(flat(sections.engines)).toContain(
      '<tr data-engine="host-a"><th scope="row">host-a</th><td><span class="badge badge-ok">ok</span></td>',
    );
    expect(flat(sections.engines)).toContain('<td class="num">unknown</td>');
    expect(flat(sections.engines)).toContain('<span class="badge badge-silent">silent</span>');
    expect(flat(sections.engines)).toContain(`data-since="${AT - 125_000}">2m</time> ago`);
  });

  it("show engines' labels, drain state, reserved and free resources, and pools no engine may take", () => {
    const overview = knownOverview();
    const [hostA] = overview.engines;
    const [, gpu] = overview.pools;
    overview.engines[0] = {
      ...hostA!,
      labels: ["gpu", "ssd"],
      draining: true,
      memory: { total: 8 * 1024 ** 3, reserved: 2 * 1024 ** 3, free: 6 * 1024 ** 3 },
      cpus: { total: 4, reserved: 1.5, free: 2.5 },
    };
    overview.pools[1] = {
      ...gpu!,
      placement: {
        rule: "spread",
        engineLabels: ["gpu"],
        noEngine: { since: AT, refused: [{ engine: "host-b", reason: "labels" }] },
      },
    };
    const rendered = renderSections(overview);
    const engines = flat(rendered.engines);
    expect(engines).toContain(
      '<span class="badge badge-ok">ok</span><span class="badge badge-draining">draining</span>',
    );
    expect(engines).toContain(`<td class="num" data-free="${6 * 1024 ** 3}">2.0 GiB / 6.0 GiB</td>`);
    expect(engines).toContain('<td class="num" data-free="2.5">1.5 / 2.5</td><td>gpu, ssd</td>');
    expect(flat(rendered.pools)).toContain('<p class="no-engine" data-no-engine="gpu">');
    expect(flat(rendered.pools)).toContain("(host-b: labels)");
    expect(flat(sections.pools)).not.toContain("no-engine");
  });

  it("show runners with their state, age, job and repository, linked to their page, escaped", () => {
    const runners = flat(sections.runners);
    expect(runners).toContain(
      '<tr data-runner="linux-bbbb0003" data-state="busy"><th scope="row"><a href="/admin/runners/linux-bbbb0003">linux-bbbb0003</a></th>',
    );
    expect(runners).toContain(`data-since="${AT - 3_700_000}">1h</time>`);
    expect(runners).toContain('<td class="num">101</td><td>acme/&lt;web&gt;</td>');
    expect(runners).toContain("<small>retiring: idle</small>");
    expect(runners).not.toContain("<web>");
  });

  it("show the timeline newest first, with what happened in words", () => {
    const events = flat(sections.events);
    const kinds = [...events.matchAll(/<li data-kind="([^"]+)"/g)].map((match) => match[1]);
    expect(kinds).toEqual(["oom-killed", "took-job", "runner-created", "queued"]);
    expect(events).toContain('<span class="badge badge-oom-killed">OOM-killed</span>');
    expect(events).toContain('<time datetime="2026-01-02T03:04:04.000Z">03:04:04</time>');
    expect(events).toContain('runner <a href="/admin/runners/linux-cccc0004">linux-cccc0004</a>');
  });

  it("say so when there is nothing", () => {
    const empty = renderSections({ ...knownOverview(), pools: [], engines: [], runners: [], events: [] });
    expect(empty.pools.text).toContain("No pools are configured.");
    expect(empty.runners.text).toContain("No live runners.");
    expect(empty.events.text).toContain("Nothing happened yet.");
  });
});

describe("pages", () => {
  it("the dashboard loads its script and style from the app, links Bull Board, and works as a snapshot without them", () => {
    const page = flat(renderDashboard(knownOverview()));
    expect(page).toContain('<script src="/admin/assets/dashboard.js" defer></script>');
    expect(page).toContain('<link rel="stylesheet" href="/admin/assets/dashboard.css">');
    expect(page).toContain('<a href="/admin/queues">Queues (Bull Board)</a>');
    expect(page).toContain('<p id="live-status" role="status">Snapshot taken');
    expect(page).not.toMatch(/<script>|style="/);
  });

  it("the login form names its field, keeps where to go next, and shows an error as an alert", () => {
    const plain = flat(renderLogin({ next: "/admin/queues" }));
    expect(plain).toContain('<label for="token">');
    expect(plain).toContain('<input type="hidden" name="next" value="/admin/queues">');
    expect(plain).not.toContain('role="alert"');
    const refused = flat(renderLogin({ next: "/admin", error: "Wrong admin token." }));
    expect(refused).toContain('<p id="login-error" class="error" role="alert">Wrong admin token.</p>');
    expect(refused).toContain('aria-invalid="true" aria-describedby="login-error"');
  });

  it("a runner's page shows its record, how it ended, its resource use, kept logs and timeline", () => {
    const exited: RunnerDetail = {
      ...runner({ name: "linux-cccc0004", busyJobId: 99 }),
      state: "exited",
      exit: { at: AT - 1_000, exitCode: 137, oomKilled: true, reason: "oom-killed" },
      usage: { peakMemoryBytes: 64 * 1024 * 1024, cpuSeconds: 2.25 },
      rerun: { pool: "big", at: AT - 500 },
      logs: "step 1\n<killed>\n",
    };
    const page = flat(
      renderRunnerPage({ name: "linux-cccc0004", detail: exited, events: knownOverview().events.slice(0, 1), now: AT }),
    );
    expect(page).toContain('<dt>State</dt><dd><span class="badge badge-exited">exited</span></dd>');
    expect(page).toContain("<dt>Job it took</dt><dd>99</dd>");
    expect(page).toContain("<dt>Peak memory</dt><dd>64.0 MiB</dd><dt>CPU time</dt><dd>2.3 s</dd>");
    expect(page).toContain("<dt>Job re-run</dt><dd>on pool big, 0s ago</dd>");
    expect(page).toContain("<dt>Exit code</dt><dd>137</dd>");
    expect(page).toContain("<dt>OOM-killed</dt><dd>yes</dd>");
    expect(page).toContain('<pre tabindex="0">step 1 &lt;killed&gt; </pre>');
    expect(page).toContain('<li data-kind="oom-killed" data-runner="linux-cccc0004">');

    const live: RunnerDetail = {
      ...runner({ name: "linux-aaaa0002" }),
      usage: null,
      exit: null,
      rerun: null,
      logs: null,
    };
    const livePage = flat(renderRunnerPage({ name: "linux-aaaa0002", detail: live, events: [], now: AT }));
    expect(livePage).toContain('<a href="/admin/runners/linux-aaaa0002/logs">Its log so far</a>');
    expect(livePage).not.toContain('<h2 id="exit-title">');

    const missing = flat(renderRunnerPage({ name: "x<y", detail: undefined, events: [], now: AT }));
    expect(missing).toContain("No runner named <code>x&lt;y</code>");
  });
});
