// The search page: a text query or "more like this picture" against the server's database, the hits as
// a grid of thumbnails with their scores.
interface Hit {
  id: string;
  path: string;
  score: number;
}

interface Answer {
  hits: Hit[];
  model: string;
  db: string;
  query: Record<string, string>;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const page = window as unknown as { __search: { done: number; hits?: Hit[]; error?: string } };
page.__search = { done: 0 };

function status(text: string, error = false): void {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function show(answer: Answer): void {
  const grid = $("hits");
  grid.replaceChildren(
    ...answer.hits.map((h) => {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = `/api/image?id=${encodeURIComponent(h.id)}`;
      img.alt = h.id;
      img.loading = "lazy";
      const caption = document.createElement("figcaption");
      const score = document.createElement("b");
      score.textContent = h.score.toFixed(4);
      caption.append(score, ` ${h.id}`);
      figure.append(img, caption);
      figure.title = `${h.path}\nclick: more like this`;
      figure.addEventListener("click", () => void query({ like: h.id }));
      return figure;
    }),
  );
  const what = answer.query.text !== undefined ? `"${answer.query.text}"` : `pictures like ${answer.query.like}`;
  status(`${answer.hits.length} nearest to ${what} in ${answer.db} (${answer.model})`);
}

async function query(params: Record<string, string>): Promise<void> {
  status("searching…");
  const qs = new URLSearchParams({ ...params, k: $<HTMLInputElement>("k").value });
  try {
    const r = await fetch(`/api/search?${qs}`);
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
    show(body as Answer);
    page.__search = { done: page.__search.done + 1, hits: (body as Answer).hits };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    status(message, true);
    page.__search = { done: page.__search.done + 1, error: message };
  }
}

$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  void query({ text: $<HTMLInputElement>("text").value });
});
void query({ text: $<HTMLInputElement>("text").value });
