import type { IncomingMessage, ServerResponse } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queues } from "../../queue/queues.js";
import { BULL_BOARD_PATH } from "../api/spec.js";

/** The part of an Express app used here; the adapter types its app loosely. */
interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void;
  disable(setting: string): unknown;
}

export interface BullBoard {
  /** Serves a request under BULL_BOARD_PATH; false when the board has no such page. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/**
 * Bull Board on its Express adapter, driven as a plain node handler: the request URL is made
 * relative to the mount point (as Express' own mounting would) and the promise settles when the
 * response finished, or when the board's app falls through.
 */
export function createBullBoardHandler(queues: Queues, engines: () => Promise<string[]>): BullBoard {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(BULL_BOARD_PATH);
  const board = createBullBoard({
    queues: [new BullMQAdapter(queues.provision), new BullMQAdapter(queues.oomRerun)],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: "runnerhub" } },
  });
  const app = adapter.getRouter() as ExpressApp;
  app.disable("x-powered-by");
  const shown = new Set<string>([queues.provision.name, queues.oomRerun.name]);

  // Runner-ops queues exist per engine; the engines are known from the live runners' records.
  async function showEngineQueues(): Promise<void> {
    for (const engine of await engines()) {
      const queue = queues.runnerOps(engine);
      if (shown.has(queue.name)) continue;
      shown.add(queue.name);
      board.addQueue(new BullMQAdapter(queue));
    }
  }

  return {
    async handle(req, res) {
      await showEngineQueues();
      const original = req.url ?? BULL_BOARD_PATH;
      const rest = original.slice(BULL_BOARD_PATH.length);
      req.url = rest.startsWith("/") ? rest : `/${rest}`;
      return new Promise<boolean>((resolve, reject) => {
        res.once("finish", () => resolve(true));
        res.once("close", () => resolve(true));
        app(req, res, (error) => {
          req.url = original;
          if (error) reject(error instanceof Error ? error : new Error(String(error)));
          else resolve(false);
        });
      });
    },
  };
}
