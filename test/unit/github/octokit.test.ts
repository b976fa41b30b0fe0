import { describe, expect, it } from "vitest";
import { routeLabel } from "../../../src/github/octokit.js";

describe("routeLabel", () => {
  it("keeps Octokit's route templates", () => {
    expect(routeLabel("/orgs/{org}/actions/runners/generate-jitconfig")).toBe(
      "/orgs/{org}/actions/runners/generate-jitconfig",
    );
  });

  it("cuts paginated URLs back to a template (GitHub.com and GHES)", () => {
    expect(routeLabel("https://api.github.com/orgs/acme/actions/runners?per_page=100&page=2")).toBe(
      "/orgs/{org}/actions/runners",
    );
    expect(routeLabel("https://ghe.example/api/v3/repos/acme/app/actions/runners/42?x=1")).toBe(
      "/repos/{owner}/{repo}/actions/runners/{id}",
    );
  });
});
