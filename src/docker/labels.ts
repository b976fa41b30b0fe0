/** Container labels runnerhub sets; only containers with MANAGED=true are ever touched. */
export const LABELS = {
  managed: "com.github.runnerhub.managed",
  pool: "com.github.runnerhub.pool",
  runnerName: "com.github.runnerhub.runner-name",
  runnerId: "com.github.runnerhub.runner-id",
  githubJobId: "com.github.runnerhub.job-id",
  owner: "com.github.runnerhub.owner",
  installationId: "com.github.runnerhub.installation-id",
  /** The repository of a repository runner, empty for an organization's: with owner and installation, its scope. */
  repo: "com.github.runnerhub.repo",
} as const;
