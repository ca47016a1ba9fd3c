// The web demo's search page, served by web/server.ts: queries a database `tesserae embed` wrote (or, by
// default, one embedded on first use from the fixture images with the tiny CLIP checkpoint).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embedCollection } from "../api/dataset/embed.ts";
import { bytesAtPath } from "../api/dataset/items.ts";
import { openExistingStore } from "../api/dataset/open-store.ts";
import { search, type SearchResult } from "../api/dataset/search.ts";

export interface SearchQuery {
  text?: string;
  like?: string;
  k?: number;
}

export class SearchService {
  private ready: Promise<string> | null = null;

  /** `db`: a database folder; default: the fixture images embedded with the tiny CLIP on first use. */
  constructor(
    private readonly root: string,
    private readonly db?: string,
  ) {}

  private database(): Promise<string> {
    this.ready ??= this.db
      ? Promise.resolve(this.db)
      : (async () => {
          const out = join(mkdtempSync(join(tmpdir(), "tesserae-web-db-")), "fixtures.db");
          await embedCollection({
            graph: join(this.root, "graphs", "clip-score.tsr"),
            weights: join(this.root, "test", "fixtures", "clip-model"),
            inputs: [join(this.root, "test", "fixtures", "images")],
            out,
            threads: 0,
          });
          return out;
        })();
    return this.ready;
  }

  async query(q: SearchQuery): Promise<SearchResult & { db: string }> {
    const db = await this.database();
    return { ...(await search({ db, text: q.text, like: q.like, k: q.k ?? 24 })), db };
  }

  /** The image bytes of a row (only rows the database has: the page cannot name other files). */
  async image(id: string): Promise<Uint8Array | null> {
    const store = await openExistingStore(await this.database());
    try {
      const row = await store.row(id);
      return row ? bytesAtPath(row.path) : null;
    } finally {
      await store.close();
    }
  }
}
