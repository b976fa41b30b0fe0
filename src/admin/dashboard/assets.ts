/**
 * The dashboard's style sheet and script, served by the app itself: no build step, no network at
 * run time. Kept as strings so `tsc` ships them in dist/ with the rest.
 */

export const DASHBOARD_STYLE = `
:root { color-scheme: light; --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --head: #f6f8fa; --link: #0550ae; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .5rem 1rem; background: #24292f; color: #ffffff; }
header .brand { margin: 0; font-weight: 700; }
header nav ul { display: flex; flex-wrap: wrap; gap: 1rem; margin: 0; padding: 0; list-style: none; align-items: center; }
header a { color: #ffffff; }
header button { font: inherit; background: transparent; color: #ffffff; border: 1px solid #8c959f; border-radius: 4px; padding: .1rem .6rem; cursor: pointer; }
main { padding: 1rem; max-width: 80rem; }
h1 { font-size: 1.5rem; margin: .25rem 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.25rem 0 .4rem; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 0 2rem; }
.grid > section:first-child { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--head); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
meter { width: 4rem; vertical-align: middle; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: .85rem; font-weight: 600; background: #eaeef2; color: #24292f; }
.badge-starting, .badge-runner-created, .badge-queued, .badge-overflowed { background: #ddf4ff; color: #0a3069; }
.badge-idle, .badge-ok, .badge-completed { background: #dafbe1; color: #116329; }
.badge-busy, .badge-took-job, .badge-draining { background: #fff8c5; color: #6c4400; }
.badge-crashed, .badge-oom-killed, .badge-unreachable, .badge-crash-looping, .badge-no-engine { background: #ffebe9; color: #a40e26; }
.events { list-style: none; padding: 0; margin: 0; }
.events li { padding: .2rem 0; border-bottom: 1px solid var(--line); }
.events time, #live-status { color: var(--muted); font-variant-numeric: tabular-nums; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.login { display: grid; gap: .5rem; max-width: 24rem; }
.login input, .login button { font: inherit; padding: .4rem .5rem; }
.login button { background: #1f883d; color: #ffffff; border: 0; border-radius: 6px; cursor: pointer; }
.crash-loop { border-left: 4px solid #a40e26; padding: .2rem .6rem; margin: .6rem 0; }
.crash-loop pre { max-height: 16rem; overflow: auto; font-size: .8rem; }
.pool-charts h3 { font-size: 1rem; margin: .8rem 0 .2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 0 2rem; }
.chart { margin: 0; }
.chart svg { width: 100%; height: auto; display: block; }
.chart figcaption { color: var(--muted); font-size: .85rem; }
.chart-empty { color: var(--muted); font-size: .9rem; }
.axis line { stroke: var(--line); stroke-width: 1; }
.axis text { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.chart .line { fill: none; stroke-width: 2; }
.chart .line.p50, .key.p50 { stroke: #0969da; background: #0969da; }
.chart .line.p95, .key.p95 { stroke: #bf3989; background: #bf3989; }
.chart .dot.p50 { fill: #0969da; }
.chart .dot.p95 { fill: #bf3989; }
.chart .band.busy, .key.busy { fill: #d4a72c; background: #d4a72c; }
.chart .band.idle, .key.idle { fill: #4ac26b; background: #4ac26b; }
.chart .band.starting, .key.starting { fill: #54aeff; background: #54aeff; }
.chart .line.waiting, .key.waiting { stroke: #a40e26; background: #a40e26; }
.chart .line.target, .key.target { stroke: #24292f; stroke-dasharray: 6 4; background: #24292f; }
.legend { display: inline-flex; flex-wrap: wrap; gap: .2rem .9rem; list-style: none; margin: 0 0 0 .5rem; padding: 0; }
.legend .key { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -.1rem; border-radius: 2px; }
td[data-warm="below"] { color: #a40e26; font-weight: 600; }
.error { color: #a40e26; background: #ffebe9; padding: .4rem .6rem; border-radius: 6px; margin: 0; }
`;

/**
 * Subscribes to the server-sent events of the overview and swaps in the sections the server
 * rendered; between updates it keeps the ages counting. Without JavaScript the page is a snapshot.
 */
export const DASHBOARD_SCRIPT = `"use strict";
(function () {
  var status = document.getElementById("live-status");
  function say(text) { if (status) status.textContent = text; }
  function age(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-since]").forEach(function (el) {
      el.textContent = age(now - Number(el.getAttribute("data-since")));
    });
  }
  setInterval(tick, 1000);
  if (!window.EventSource) return;
  var source = new EventSource("/admin/events");
  source.addEventListener("open", function () { say("Live: updates as things happen."); });
  source.addEventListener("sections", function (event) {
    var sections = JSON.parse(event.data);
    Object.keys(sections).forEach(function (id) {
      var el = document.querySelector('[data-live="' + id + '"]');
      if (el && el.innerHTML !== sections[id]) el.innerHTML = sections[id];
    });
    tick();
    say("Live: updates as things happen. Last change " + new Date().toISOString().slice(11, 19) + " UTC.");
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) say("Disconnected; reload the page (you may need to log in again).");
    else say("Connection lost; reconnecting…");
  });
})();
`;
