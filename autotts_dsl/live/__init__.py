"""Building replay stores from a live model (AutoTTS's "environment construction").

One job per module:

* `questions` reads a questions file (JSONL / CSV / JSON);
* `client` talks to any OpenAI-compatible server (bounded retries, counts);
* `segments` is the collection rule: where a trace is cut and probed;
* `answers` extracts `\\boxed{}` answers; `equivalence` interns equal ones;
* `journal` keeps every finished trace and probe durably (SQLite);
* `collector` drives a collection; `storefile` writes the store + metadata;
* `build`, `merge`, `stats` are `tts-dsl store build|merge|inspect`;
* `replay_tokens` / `replay_server` are `tts-dsl serve-replay`: a replay
  store served as an OpenAI-compatible model, with fault injection;
* `infer` is `tts-dsl infer` (docs/infer.md): `live_trace` samples and
  probes a trace as a program reads it, `live_episode` is the replay
  `Episode` over live traces, `speculate` puts a batch's reads in flight
  together, `interning` interns answers as they arrive, `infer_journal`
  makes it resumable, `infer_record` writes what it sampled as a store.

Only `equivalence`'s math rule needs an extra (`pip install 'tts-dsl[live]'`
for math-verify); everything else is the standard library.
"""
