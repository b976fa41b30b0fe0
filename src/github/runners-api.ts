import type { ProbotOctokit } from "probot";
import { httpStatusOf } from "../http/error-status.js";
import type { JobStatus, RunnerScope, RunnerTarget } from "../scope/runner-scope.js";
import { RUNNER_GROUP_CACHE_MS } from "../tunables.js";

export interface GitHubRunner {
  id: number;
  name: string;
  online: boolean;
  busy: boolean;
  labels: string[];
}

/** The GitHub calls runnerhub makes; one small surface so tests and fakes stay honest. */
export interface RunnersApi {
  generateJitConfig(
    target: RunnerTarget,
    runner: { name: string; runnerGroupId: number; labels: string[] },
  ): Promise<{ runnerId: number; encodedJitConfig: string }>;
  createRegistrationToken(target: RunnerTarget): Promise<string>;
  runnerGroupId(target: RunnerTarget, groupName: string): Promise<number>;
  listRunners(target: RunnerTarget): Promise<GitHubRunner[]>;
  /** undefined when GitHub does not know the runner. */
  getRunner(target: RunnerTarget, runnerId: number): Promise<GitHubRunner | undefined>;
  /** "busy": GitHub refuses to delete a runner that is running a job; "missing": it knows none. */
  deleteRunner(target: RunnerTarget, runnerId: number): Promise<"deleted" | "missing" | "busy">;
  jobStatus(installationId: number, owner: string, repo: string, githubJobId: number): Promise<JobStatus>;
  /** The job's status and, once completed, its conclusion (success, failure, cancelled…). */
  jobResult(
    installationId: number,
    owner: string,
    repo: string,
    githubJobId: number,
  ): Promise<{ status: JobStatus; conclusion: string | null }>;
  /**
   * Re-runs a job (Actions write). "run-in-progress": GitHub re-runs a job only once its whole
   * workflow run has completed; ask again later.
   */
  rerunJob(
    installationId: number,
    owner: string,
    repo: string,
    githubJobId: number,
  ): Promise<"rerun" | "run-in-progress">;
  /** The installation of this app on an organization or repository (app JWT). */
  installationFor(scope: RunnerScope): Promise<number>;
}

/** Repositories have no runner groups: their runners always join the default group. */
const DEFAULT_RUNNER_GROUP_ID = 1;

type InstallationOctokit = InstanceType<typeof ProbotOctokit>;

function toGitHubRunner(runner: {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels: { name: string }[];
}): GitHubRunner {
  return {
    id: runner.id,
    name: runner.name,
    online: runner.status === "online",
    busy: runner.busy,
    labels: runner.labels.map((label) => label.name),
  };
}

/**
 * Runner-group ids by installation, organization and lower-cased name, kept for
 * RUNNER_GROUP_CACHE_MS after they were read.
 */
class RunnerGroupIds {
  private readonly ids = new Map<string, { id: number; readAt: number }>();

  constructor(private readonly now: () => number) {}

  get(installationId: number, org: string, name: string): number | undefined {
    const cached = this.ids.get(this.key(installationId, org, name));
    return cached !== undefined && this.now() - cached.readAt < RUNNER_GROUP_CACHE_MS ? cached.id : undefined;
  }

  /** The organization's groups as just listed, replacing what was known of it; returns them by lower-cased name. */
  replace(installationId: number, org: string, groups: { id: number; name: string }[]): Map<string, number> {
    this.forget(installationId, org);
    const readAt = this.now();
    for (const group of groups) this.ids.set(this.key(installationId, org, group.name), { id: group.id, readAt });
    return new Map(groups.map((group) => [group.name.toLowerCase(), group.id]));
  }

  /** Forgets the organization's groups (only the one with this id, when given). */
  forget(installationId: number, org: string, id?: number): void {
    const prefix = this.key(installationId, org, "");
    for (const [key, cached] of this.ids) {
      if (key.startsWith(prefix) && (id === undefined || cached.id === id)) this.ids.delete(key);
    }
  }

  private key(installationId: number, org: string, name: string): string {
    return `${installationId}/${org}/${name.toLowerCase()}`;
  }
}

/**
 * RunnersApi over installation-authenticated Octokit clients (Probot's, which cache installation
 * tokens; runnerhub's Octokit adds the shared budget, retries and deadlines). Runner-group ids are
 * kept for RUNNER_GROUP_CACHE_MS, by `now`.
 */
export function createRunnersApi(
  auth: (installationId?: number) => Promise<InstallationOctokit>,
  now: () => number,
): RunnersApi {
  const groupIds = new RunnerGroupIds(now);

  return {
    async generateJitConfig({ installationId, scope }, runner) {
      const octokit = await auth(installationId);
      const body = { name: runner.name, runner_group_id: runner.runnerGroupId, labels: runner.labels };
      try {
        const { data } =
          scope.kind === "org"
            ? await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: scope.org, ...body })
            : await octokit.rest.actions.generateRunnerJitconfigForRepo({
                owner: scope.owner,
                repo: scope.repo,
                ...body,
              });
        return { runnerId: data.runner.id, encodedJitConfig: data.encoded_jit_config };
      } catch (error) {
        const status = httpStatusOf(error);
        // The group may have been deleted or recreated under a new id: the next attempt looks it up again.
        if (scope.kind === "org" && (status === 404 || status === 422)) {
          groupIds.forget(installationId, scope.org, runner.runnerGroupId);
        }
        throw error;
      }
    },

    async createRegistrationToken({ installationId, scope }) {
      const octokit = await auth(installationId);
      const { data } =
        scope.kind === "org"
          ? await octokit.rest.actions.createRegistrationTokenForOrg({ org: scope.org })
          : await octokit.rest.actions.createRegistrationTokenForRepo({ owner: scope.owner, repo: scope.repo });
      return data.token;
    },

    async runnerGroupId({ installationId, scope }, groupName) {
      if (scope.kind === "repo") return DEFAULT_RUNNER_GROUP_ID;
      const cached = groupIds.get(installationId, scope.org, groupName);
      if (cached !== undefined) return cached;
      const octokit = await auth(installationId);
      const groups = await octokit.paginate("GET /orgs/{org}/actions/runner-groups", { org: scope.org, per_page: 100 });
      const id = groupIds.replace(installationId, scope.org, groups).get(groupName.toLowerCase());
      if (id === undefined) {
        throw new Error(
          `runner group "${groupName}" does not exist in organization ${scope.org}; create it or fix the pool's runnerGroup`,
        );
      }
      return id;
    },

    async listRunners({ installationId, scope }) {
      const octokit = await auth(installationId);
      const runners =
        scope.kind === "org"
          ? await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForOrg, { org: scope.org, per_page: 100 })
          : await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForRepo, {
              owner: scope.owner,
              repo: scope.repo,
              per_page: 100,
            });
      return runners.map(toGitHubRunner);
    },

    async getRunner({ installationId, scope }, runnerId) {
      const octokit = await auth(installationId);
      try {
        const { data } =
          scope.kind === "org"
            ? await octokit.rest.actions.getSelfHostedRunnerForOrg({ org: scope.org, runner_id: runnerId })
            : await octokit.rest.actions.getSelfHostedRunnerForRepo({
                owner: scope.owner,
                repo: scope.repo,
                runner_id: runnerId,
              });
        return toGitHubRunner(data);
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
    },

    async deleteRunner({ installationId, scope }, runnerId) {
      const octokit = await auth(installationId);
      try {
        if (scope.kind === "org") {
          await octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: scope.org, runner_id: runnerId });
        } else {
          await octokit.rest.actions.deleteSelfHostedRunnerFromRepo({
            owner: scope.owner,
            repo: scope.repo,
            runner_id: runnerId,
          });
        }
        return "deleted";
      } catch (error) {
        const status = httpStatusOf(error);
        if (status === 404) return "missing";
        if (status === 422) return "busy";
        throw error;
      }
    },
    ...jobsAndInstallations(auth),
  };
}

/** The RunnersApi calls about jobs and installations, which need no runner-group ids. */
function jobsAndInstallations(
  auth: (installationId?: number) => Promise<InstallationOctokit>,
): Pick<RunnersApi, "installationFor" | "jobStatus" | "jobResult" | "rerunJob"> {
  return {
    async installationFor(scope) {
      const octokit = await auth();
      const { data } =
        scope.kind === "org"
          ? await octokit.rest.apps.getOrgInstallation({ org: scope.org })
          : await octokit.rest.apps.getRepoInstallation({ owner: scope.owner, repo: scope.repo });
      return data.id;
    },

    async jobStatus(installationId, owner, repo, githubJobId) {
      return (await this.jobResult(installationId, owner, repo, githubJobId)).status;
    },

    async jobResult(installationId, owner, repo, githubJobId) {
      const octokit = await auth(installationId);
      const { data } = await octokit.rest.actions.getJobForWorkflowRun({ owner, repo, job_id: githubJobId });
      return { status: data.status, conclusion: data.conclusion };
    },

    async rerunJob(installationId, owner, repo, githubJobId) {
      const octokit = await auth(installationId);
      try {
        await octokit.rest.actions.reRunJobForWorkflowRun({ owner, repo, job_id: githubJobId });
        return "rerun";
      } catch (error) {
        // GitHub's answer while other jobs of the run still run: "The workflow run containing this job is already running".
        if (httpStatusOf(error) === 403 && /already running/i.test((error as Error).message)) return "run-in-progress";
        throw error;
      }
    },
  };
}
