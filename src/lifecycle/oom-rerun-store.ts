import { OOM_RERUN_CLAIM_SECONDS } from "../tunables.js";
import type { StoreContext } from "../state/store-context.js";

/** A job re-run after an OOM kill, and where its re-run goes. */
export interface OomRerunClaim {
  jobId: number;
  fromPool: string;
  toPool: string;
  /** The size of toPool the re-run gets (the pool's oomRetrySize); absent: the pool's own resources. */
  toSize?: string;
  runnerName: string;
  at: number;
  /** The job id of the re-run, once its queued webhook arrived. */
  requeuedJobId?: number;
}

/** The job by what a re-run keeps: its repository, run and name. */
export interface RerunJobRef {
  owner: string;
  repo: string;
  runId: number;
  name: string;
}

/** Which jobs were re-run after an OOM kill (once each), read by intake to route the re-run. */
export class OomRerunStore {
  constructor(private readonly store: StoreContext) {}

  private key(job: RerunJobRef): string {
    return this.store.keys.oomRerun(job.owner, job.repo, job.runId, job.name);
  }

  /** True for the one caller that gets to re-run this job; false once it was re-run (by anyone). */
  async claim(job: RerunJobRef, claim: OomRerunClaim): Promise<boolean> {
    return (
      (await this.store.redis.set(this.key(job), JSON.stringify(claim), "EX", OOM_RERUN_CLAIM_SECONDS, "NX")) === "OK"
    );
  }

  async claimOf(job: RerunJobRef): Promise<OomRerunClaim | undefined> {
    const text = await this.store.redis.get(this.key(job));
    return text ? (JSON.parse(text) as OomRerunClaim) : undefined;
  }

  /** The re-run's queued webhook arrived (only intake writes this, after claim). */
  async markRequeued(job: RerunJobRef, claim: OomRerunClaim, requeuedJobId: number): Promise<void> {
    await this.store.redis.set(this.key(job), JSON.stringify({ ...claim, requeuedJobId }), "KEEPTTL");
  }
}
